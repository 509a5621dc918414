using Microsoft.AspNetCore.Builder;
using FastEndpoints;
using FluentValidation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.Sandbox;

/// <summary>
/// <c>POST /v1/sandbox/chargebacks {"trx_id","amount","reason_code"}</c>: the acquirer reports a chargeback. Recorded as a
/// <c>CHARGEBACK</c> transaction up to <c>captured − charged_back</c>, even when refunds already cover it (then the payment
/// is flagged <c>over_recovered</c>).
/// </summary>
internal sealed class ChargebackEndpoint(ICurrentMerchant merchant, ChargebackData data, OutboxSignal outbox,
    IOptions<GatewayOptions> gateway) : Endpoint<ChargebackRequest>
{
    public override void Configure()
    {
        Post("/v1/sandbox/chargebacks");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
    }

    public override async Task OnBeforeValidateAsync(ChargebackRequest req, CancellationToken ct)
    {
        SandboxRoutes.EnsureSandbox(HttpContext, gateway);
        await Task.CompletedTask;
    }

    public override async Task HandleAsync(ChargebackRequest req, CancellationToken ct)
    {
        if (!PrefixedId.IsValid("trx", req.TrxId))
        {
            throw TransactionAnswers.NotFound();
        }
        var changed = await data.ChargebackAsync(merchant.Id, req.TrxId!, req.Amount!.Value, req.ReasonCode!,
            HttpContext.IdempotencyClaim(), ct);
        outbox.Kick();
        await TransactionAnswers.WriteAsync(HttpContext, StatusCodes.Status201Created, changed.Body, changed.Transaction.Version, ct);
    }
}

internal sealed class ChargebackRequest
{
    public string? TrxId { get; set; }
    public long? Amount { get; set; }
    public string? ReasonCode { get; set; }

    internal sealed class Validator : Validator<ChargebackRequest>
    {
        public Validator()
        {
            RuleFor(x => x.TrxId).NotEmpty().WithMessage("Is required.");
            RuleFor(x => x.Amount).NotNull().WithMessage("Is required.").Amount();
            RuleFor(x => x.ReasonCode).NotNull().WithMessage("Is required.")
                .Must(v => v is null || (v.Length is >= 1 and <= 64 && FieldRules.IsPrintableAscii(v)))
                .WithMessage("Must be 1 to 64 printable ASCII characters.")
                .NoCardData();
        }
    }
}
