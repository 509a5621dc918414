using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Data;
using Payments.Transactions.Lifecycle;

namespace Payments.Transactions.Features.Sandbox;

/// <summary><c>POST /v1/sandbox/settle</c>: a settlement run now, for the calling merchant.</summary>
internal sealed class SettleEndpoint(ICurrentMerchant merchant, SettlementData data, OutboxSignal outbox,
    IOptions<GatewayOptions> gateway) : EndpointWithoutRequest<SettleResponse>
{
    public override void Configure()
    {
        Post("/v1/sandbox/settle");
        // Every POST takes an Idempotency-Key, as Stripe's do: a retried call whose answer was lost gets that answer.
        Options(b => b.WithMetadata(new IdempotentAttribute()));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        SandboxRoutes.EnsureSandbox(HttpContext, gateway);
        await NoFields.RefuseAnyAsync(HttpContext, ct);
        var (id, settled) = (await data.SettleAsync(merchant.Id, null, ct))!.Value;
        outbox.Kick();
        await Send.OkAsync(new SettleResponse(id, settled), ct);
    }
}

internal sealed record SettleResponse(string SettlementId, int Settled);
