using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Intents.Contracts;
using Payments.Intents.Data;
using Payments.Vault.Contracts;

namespace Payments.Intents.Features.Create;

/// <summary><c>POST /v1/payment-intents</c>: <c>REQUIRES_PAYMENT_METHOD</c> without a card token, <c>REQUIRES_CONFIRMATION</c> with one.</summary>
internal sealed class CreatePaymentIntentEndpoint(ICurrentMerchant merchant, IVaultClient vault, IntentStore store, TimeProvider clock)
    : Endpoint<CreatePaymentIntentRequest>
{
    public override void Configure()
    {
        Post("/v1/payment-intents");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<PaymentIntentResponse>(201).ProducesProblem(400).ProducesProblem(404));
    }

    public override async Task HandleAsync(CreatePaymentIntentRequest req, CancellationToken ct)
    {
        if (req.CardToken is { } token && await vault.GetCardAsync(merchant.Id, token, ct) is null)
        {
            throw ProblemException.NotFound("The card token");
        }
        var now = clock.UtcNowMicros();
        var intent = new PaymentIntentResponse(PrefixedId.New("pi", clock),
            req.CardToken is null ? PaymentIntentStatuses.RequiresPaymentMethod : PaymentIntentStatuses.RequiresConfirmation,
            req.Amount!.Value, req.Currency!, req.OrderId!, req.ExternalId, req.CardToken, req.Description, req.Metadata,
            null, null, now, now);
        var body = await store.InsertAsync(merchant.Id, intent, HttpContext.IdempotencyClaim(), now, ct);
        HttpContext.MarkResponseStart(); // the exact bytes stored for the idempotency key
        HttpContext.Response.StatusCode = StatusCodes.Status201Created;
        HttpContext.Response.ContentType = "application/json";
        await HttpContext.Response.Body.WriteAsync(body, ct);
    }
}
