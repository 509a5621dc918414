using Microsoft.AspNetCore.Builder;
using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Intents.Contracts;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;
using Payments.Vault.Contracts;

namespace Payments.Transactions.Features.Authorize;

/// <summary>
/// <c>POST /v1/transactions</c>: authorize or authcap, inline or from a payment intent. The Vault runs the acquirer
/// with the card; a decline is a recorded transaction (201, <c>DECLINED</c>).
/// </summary>
internal sealed class AuthorizeEndpoint(
    ICurrentMerchant merchant,
    IVaultClient vault,
    IPaymentIntentReader intents,
    AuthorizeData data,
    OutboxSignal outbox) : Endpoint<AuthorizeRequest>
{
    public override void Configure()
    {
        Post("/v1/transactions");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<TransactionSnapshot>(201).ProducesProblem(404).ProducesProblem(409));
    }

    public override async Task HandleAsync(AuthorizeRequest req, CancellationToken ct)
    {
        var merchantId = merchant.Id;
        long amount;
        string currency, orderId;
        string? externalId, cardToken, intentId = null;
        if (req.PaymentIntentId is { } pi)
        {
            var intent = (PrefixedId.IsValid("pi", pi) ? await intents.FindAsync(merchantId, pi, ct) : null)
                         ?? throw ProblemException.NotFound("The payment intent");
            if (intent.Status is PaymentIntentStatuses.Succeeded or PaymentIntentStatuses.Canceled ||
                await data.IntentHasLivePaymentAsync(merchantId, intent.Id, ct))
            {
                throw ProblemException.InvalidState($"The payment intent is {(intent.Status == PaymentIntentStatuses.Canceled ? "canceled" : "already used")}.");
            }
            cardToken = req.CardToken ?? intent.CardToken
                        ?? throw ProblemException.Validation("card_token", "Is required: the payment intent has no card token.");
            (amount, currency, orderId, externalId, intentId) = (intent.Amount, intent.Currency, intent.OrderId, intent.ExternalId, intent.Id);
        }
        else
        {
            (amount, currency, orderId, externalId, cardToken) = (req.Amount!.Value, req.Currency!, req.OrderId!, req.ExternalId, req.CardToken!);
        }

        if (externalId is not null && await data.ExternalIdTakenAsync(merchantId, externalId, ct))
        {
            throw new ProblemException(409, ErrorCodes.DuplicateExternalId, "A payment with this external_id already exists.");
        }

        var trxId = PrefixedId.New("trx", data.Clock);
        var claim = HttpContext.IdempotencyClaim();
        // With an Idempotency-Key, a retry after this request failed to record the acquirer's answer gets that answer
        // back from the Vault rather than a second authorization on the cardholder's account.
        var outcome = await vault.AuthorizeAsync(merchantId,
            new AcquirerRequest(cardToken, amount, currency, trxId, req.Capture, claim?.OperationKey), ct);
        if (!outcome.CardFound)
        {
            throw ProblemException.NotFound("The card token");
        }
        var changed = await data.InsertPaymentAsync(new NewPayment(trxId, merchantId, amount, currency, orderId, externalId,
            intentId, cardToken, req.Capture, outcome.Approved, outcome.AuthorizationCode, outcome.DeclineCode,
            outcome.Brand, outcome.Last4, outcome.AnsweredAt), claim, ct);
        outbox.Kick();
        await TransactionAnswers.WriteAsync(HttpContext, StatusCodes.Status201Created, changed.Body, changed.Transaction.Version, ct);
    }
}
