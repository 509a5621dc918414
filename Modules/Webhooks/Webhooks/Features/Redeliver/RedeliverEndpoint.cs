using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Webhooks.Data;
using Payments.Webhooks.Recording;

namespace Payments.Webhooks.Features.Redeliver;

/// <summary>
/// <c>POST /v1/events/{id}/redeliver</c>: queues the event again for each of the merchant's enabled endpoints that asked
/// for its type; 202 <c>{"event_id","deliveries"}</c> with how many were queued. Unknown or another merchant's: 404.
/// </summary>
internal sealed class RedeliverEndpoint(ICurrentMerchant merchant, WebhookStore store) : EndpointWithoutRequest<RedeliverResponse>
{
    public override void Configure()
    {
        Post("/v1/events/{id}/redeliver");
        // Every POST takes an Idempotency-Key, as Stripe's do: a retried call whose answer was lost gets that answer.
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<RedeliverResponse>(202).ProducesProblem(404));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        await NoFields.RefuseAnyAsync(HttpContext, ct);
        var id = Route<string>("id", isRequired: false);
        var queued = PrefixedId.IsValid("evt", id) ? await store.RedeliverAsync(merchant.Id, id!, ct) : null;
        if (queued is null)
        {
            throw ProblemException.NotFound("The event");
        }
        DispatchSignal.Kick();
        await Send.ResponseAsync(new RedeliverResponse(id!, queued.Value), 202, ct);
    }
}

internal sealed record RedeliverResponse(string EventId, int Deliveries);
