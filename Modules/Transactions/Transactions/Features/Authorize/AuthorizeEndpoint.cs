using Microsoft.AspNetCore.Builder;
using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
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
    IPaymentIntentConfirmations intents,
    AuthorizeData data,
    OutboxSignal outbox,
    IOptions<Payments.BuildingBlocks.Idempotency.IdempotencyOptions> idempotency) : Endpoint<AuthorizeRequest>
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
        var trxId = PrefixedId.New("trx", data.Clock);
        if (req.PaymentIntentId is not { } pi)
        {
            await AnswerAsync(await AuthorizeAsync(new Order(req.Amount!.Value, req.Currency!, req.OrderId!, req.ExternalId, req.CardToken!, null),
                trxId, req, ct), ct);
            return;
        }
        if (!PrefixedId.IsValid("pi", pi))
        {
            throw ProblemException.NotFound("The payment intent");
        }
        // The intent is marked as being confirmed by this transaction before the acquirer is called: a cancel or another
        // confirmation meanwhile is refused, rather than answering while this one charges the card.
        var start = await intents.StartAsync(merchantId, pi, trxId, req.CardToken, idempotency.Value.Lease, ct);
        var intent = start.Intent;
        switch (start.Start)
        {
            case IntentConfirmationStart.NotFound:
                throw ProblemException.NotFound("The payment intent");
            case IntentConfirmationStart.Final:
                throw ProblemException.InvalidState($"The payment intent is {(intent!.Status == PaymentIntentStatuses.Canceled ? "canceled" : "already used")}.");
            case IntentConfirmationStart.Busy:
                throw ProblemException.Busy("The payment intent is being confirmed or canceled by another request; retry after Retry-After.");
        }
        ConfirmedPayment? booked = null;
        Changed changed;
        try
        {
            if (await data.IntentHasLivePaymentAsync(merchantId, intent!.Id, ct))
            {
                throw ProblemException.InvalidState("The payment intent is already used.");
            }
            var cardToken = req.CardToken ?? intent.CardToken
                            ?? throw ProblemException.Validation("card_token", "Is required: the payment intent has no card token.");
            changed = await AuthorizeAsync(new Order(intent.Amount, intent.Currency, intent.OrderId, intent.ExternalId, cardToken, intent.Id),
                trxId, req, ct);
            booked = new ConfirmedPayment(trxId, changed.Transaction.DeclineCode is not null, changed.Transaction.DeclineCode);
        }
        finally
        {
            // Before the answer, so the merchant reads the intent's new status once it has the transaction.
            await intents.FinishAsync(merchantId, pi, trxId, booked, CancellationToken.None);
        }
        await AnswerAsync(changed, ct);
    }

    /// <summary>What is authorized: the request's own fields, or its payment intent's.</summary>
    private sealed record Order(long Amount, string Currency, string OrderId, string? ExternalId, string CardToken, string? IntentId);

    private async Task<Changed> AuthorizeAsync(Order order, string trxId, AuthorizeRequest req, CancellationToken ct)
    {
        var merchantId = merchant.Id;
        if (order.ExternalId is not null && await data.ExternalIdTakenAsync(merchantId, order.ExternalId, order.IntentId, ct))
        {
            throw new ProblemException(409, ErrorCodes.DuplicateExternalId, "A payment with this external_id already exists.");
        }

        var claim = HttpContext.IdempotencyClaim();
        // With an Idempotency-Key, a retry after this request failed to record the acquirer's answer gets that answer
        // back from the Vault rather than a second authorization on the cardholder's account.
        var outcome = await vault.AuthorizeAsync(merchantId,
            new AcquirerRequest(order.CardToken, order.Amount, order.Currency, trxId, req.Capture, claim?.OperationKey), ct);
        if (!outcome.CardFound)
        {
            throw ProblemException.NotFound("The card token");
        }
        var changed = await data.InsertPaymentAsync(new NewPayment(trxId, merchantId, order.Amount, order.Currency, order.OrderId,
            order.ExternalId, order.IntentId, order.CardToken, req.Capture, outcome.Approved, outcome.AuthorizationCode,
            outcome.DeclineCode, outcome.Brand, outcome.Last4, outcome.AnsweredAt), claim);
        outbox.Kick();
        return changed;
    }

    private Task AnswerAsync(Changed changed, CancellationToken ct) =>
        TransactionAnswers.WriteAsync(HttpContext, StatusCodes.Status201Created, changed.Body, changed.Transaction.Version, ct);
}
