using Microsoft.AspNetCore.Builder;
using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.CaptureVoid;

/// <summary>
/// <c>POST /v1/transactions/{trx_id}</c>: capture or void part or all of what remains. One conditional statement on the
/// locked row serializes concurrent operations on any number of Host processes; state is judged before amount.
/// </summary>
internal sealed class CaptureVoidEndpoint(ICurrentMerchant merchant, CaptureWriter writer, OutboxSignal outbox)
    : Endpoint<CaptureVoidRequest>
{
    public override void Configure()
    {
        Post("/v1/transactions/{trx_id}");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<TransactionSnapshot>(200).ProducesProblem(404).ProducesProblem(409).ProducesProblem(412).ProducesProblem(422));
    }

    public override async Task HandleAsync(CaptureVoidRequest req, CancellationToken ct)
    {
        var trxId = Route<string>("trx_id", isRequired: false);
        if (!PrefixedId.IsValid("trx", trxId))
        {
            throw TransactionAnswers.NotFound();
        }
        var changed = await writer.WriteAsync(new CaptureChange(merchant.Id, trxId!, req.IsCapture, req.Amount,
            EntityTags.IfMatch(HttpContext), HttpContext.IdempotencyClaim()));
        outbox.Kick();
        await TransactionAnswers.WriteAsync(HttpContext, StatusCodes.Status200OK, changed.Body, changed.Transaction.Version, ct);
    }
}
