using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Intents.Contracts;
using Payments.Intents.Data;
using Payments.Transactions.Contracts;

namespace Payments.Intents.Features.Cancel;

/// <summary>
/// <c>POST /v1/payment-intents/{id}/cancel</c>: 200 <c>CANCELED</c>; a succeeded or canceled intent is 409
/// <c>invalid_state</c>, and so is one being confirmed or already paid. The cancel marks the intent as a confirmation
/// does (so none can start meanwhile), checks that no payment of it exists (its outcome may not have reached the
/// intent yet), and only then cancels.
/// </summary>
internal sealed class CancelPaymentIntentEndpoint(
    ICurrentMerchant merchant,
    IntentStore store,
    IPaymentIntentPayments payments,
    IOptions<Payments.BuildingBlocks.Idempotency.IdempotencyOptions> idempotency,
    TimeProvider clock) : EndpointWithoutRequest<PaymentIntentResponse>
{
    public override void Configure()
    {
        Post("/v1/payment-intents/{id}/cancel");
        // Every POST takes an Idempotency-Key, as Stripe's do: a retried call whose answer was lost gets that answer.
        Options(b => b.WithMetadata(new IdempotentAttribute()));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        await NoFields.RefuseAnyAsync(HttpContext, ct);
        var id = Route<string>("id", isRequired: false);
        if (!PrefixedId.IsValid("pi", id))
        {
            throw ProblemException.NotFound("The payment intent");
        }
        var mark = "cancel_" + Guid.NewGuid().ToString("N");
        // A request in flight is bounded by the idempotency lease (the gateway's bound for a running request).
        var start = await store.StartAsync(merchant.Id, id!, mark, null, idempotency.Value.Lease, ct);
        switch (start.Start)
        {
            case IntentConfirmationStart.NotFound:
                throw ProblemException.NotFound("The payment intent");
            case IntentConfirmationStart.Final:
                throw ProblemException.InvalidState($"The payment intent is {start.Intent!.Status} and cannot be canceled.");
            case IntentConfirmationStart.Busy:
                throw ProblemException.Busy("The payment intent is being confirmed and cannot be canceled now; retry after Retry-After.");
        }
        PaymentIntentResponse? canceled = null;
        try
        {
            if (await payments.HasLivePaymentAsync(merchant.Id, id!, ct))
            {
                throw ProblemException.InvalidState("The payment intent was paid and cannot be canceled.");
            }
            canceled = await store.CancelMarkedAsync(merchant.Id, id!, mark, clock.UtcNowMicros(), ct)
                       ?? throw ProblemException.Busy("The payment intent is being confirmed and cannot be canceled now; retry after Retry-After.");
        }
        finally
        {
            if (canceled is null)
            {
                await store.FinishAsync(merchant.Id, id!, mark, null, CancellationToken.None);
            }
        }
        await Send.OkAsync(canceled, ct);
    }
}
