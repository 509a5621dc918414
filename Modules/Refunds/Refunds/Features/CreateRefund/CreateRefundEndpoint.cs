using System.Globalization;
using System.Text.Json;
using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Refunds.Concurrency;
using Payments.Refunds.Data;
using Payments.Refunds.Domain;
using Payments.Transactions.Contracts;
using Payments.Vault.Contracts;

namespace Payments.Refunds.Features.CreateRefund;

/// <summary>
/// <c>POST /v1/transactions/{trx_id}/refunds</c>: a full or partial refund of a payment with something captured, as a new
/// <c>REFUND</c> transaction. The ledger holds the payment's row lock across the rules and the acquirer call, so
/// concurrent refunds (on any number of Host processes) are serialized and the database refuses any excess.
/// </summary>
internal sealed class CreateRefundEndpoint(
    ICurrentMerchant merchant,
    IRefundLedger ledger,
    IVaultClient vault,
    RefundRecords records,
    PaymentQueue queue,
    ILogger<CreateRefundEndpoint> logger) : Endpoint<CreateRefundRequest>
{
    /// <summary>The decline code of a refund whose card token was deleted: the acquirer cannot be asked.</summary>
    public const string CardUnavailable = "card_unavailable";

    public override void Configure()
    {
        Post("/v1/transactions/{trx_id}/refunds");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<TransactionSnapshot>(201).ProducesProblem(400).ProducesProblem(404)
            .ProducesProblem(409).ProducesProblem(412).ProducesProblem(422));
        Summary(s =>
        {
            s.Summary = "Refund a payment, fully or partially";
            s.Description = "Refunds part or all of what is still refundable (captured − refunded − charged back) of a payment " +
                            "with something captured. Several refunds per payment are allowed. A refund the acquirer " +
                            "refuses is recorded DECLINED with its decline_code and refunds nothing. If-Match takes the " +
                            "payment's ETag.";
        });
    }

    public override async Task HandleAsync(CreateRefundRequest req, CancellationToken ct)
    {
        var paymentTrxId = Route<string>("trx_id", isRequired: false);
        if (!PrefixedId.IsValid("trx", paymentTrxId))
        {
            throw NotFound();
        }
        var ifMatch = EntityTags.IfMatchVersion(HttpContext);
        // Chosen here so the acquirer and the ledger know the refund by the same id.
        var refundTrxId = PrefixedId.New("trx");
        RefundRecord? sent = null;

        // Waiting for the turn may be given up (nothing happened yet); what follows may not.
        using var turn = await queue.EnterAsync(merchant.Id + "/" + paymentTrxId, ct);
        RecordedRefund? recorded;
        // Not cancelled by the client going away: once the acquirer is asked, its answer must be booked.
        try
        {
            recorded = await ledger.RecordRefundAsync(merchant.Id, paymentTrxId!, async (payment, token) =>
            {
                var amount = RefundRules.AmountToRefund(payment, req.Amount, ifMatch);
                sent = new RefundRecord(refundTrxId, merchant.Id, payment.TrxId, amount, payment.Currency, req.Reason,
                    RefundRecords.Unknown, null, Booked: false);
                // With an Idempotency-Key, a retry after a refund the acquirer made but the ledger did not book gets
                // that refund's answer back instead of sending the money a second time.
                var outcome = await vault.RefundAsync(merchant.Id, new AcquirerRequest(payment.CardToken ?? "", amount,
                    payment.Currency, refundTrxId, AttemptKey: HttpContext.IdempotencyClaim()?.OperationKey), token);
                sent = sent with
                {
                    AcquirerAnswer = outcome.CardFound && outcome.Approved ? RefundRecords.Approved : RefundRecords.Declined,
                    AcquirerCode = outcome.Approved ? outcome.AuthorizationCode : outcome.DeclineCode,
                };
                return outcome.CardFound
                    ? new RefundDecision(amount, outcome.Approved, outcome.DeclineCode, req.Reason, refundTrxId, outcome.AuthorizationCode)
                    : new RefundDecision(amount, false, CardUnavailable, req.Reason, refundTrxId);
            }, CancellationToken.None);
        }
        catch (Exception e) when (sent is not null && MayHaveMovedMoney(sent, e))
        {
            // The acquirer may have refunded (or did) and the ledger booked nothing: keep the fact for reconciliation.
            logger.LogCritical("Refund {RefundTrxId} of {PaymentTrxId} was sent to the acquirer ({Answer}) but not booked: {Error}",
                refundTrxId, sent.PaymentTrxId, sent.AcquirerAnswer, e.GetType().Name);
            await KeepAsync(sent);
            throw;
        }
        if (recorded is null)
        {
            throw NotFound();
        }
        ledger.PublishPending();
        await KeepAsync(sent! with { Booked = true });

        // The same bytes the ledger stored as this Idempotency-Key's answer, so a replay is identical.
        var refund = recorded.Refund;
        // Written by hand (the stored bytes): tell FastEndpoints, or it would answer 204 over a buffered body.
        HttpContext.MarkResponseStart();
        HttpContext.Response.StatusCode = StatusCodes.Status201Created;
        HttpContext.Response.ContentType = "application/json";
        HttpContext.Response.Headers.ETag = "\"" + refund.Version.ToString(CultureInfo.InvariantCulture) + "\"";
        await HttpContext.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(refund, PaymentsJson.Options), ct);
    }

    /// <summary>Best effort: the refund's record of truth is the REFUND transaction; this row must not fail the answer.</summary>
    private async Task KeepAsync(RefundRecord record)
    {
        try
        {
            await records.AddAsync(record, CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.LogError("Could not keep the acquirer record of refund {RefundTrxId}: {Error}", record.RefundTrxId, e.GetType().Name);
        }
    }

    /// <summary>An approval not booked, or a call with no answer (a refusal such as 429 means nothing was sent).</summary>
    private static bool MayHaveMovedMoney(RefundRecord sent, Exception e) =>
        sent.AcquirerAnswer == RefundRecords.Approved || (sent.AcquirerAnswer == RefundRecords.Unknown && e is not ProblemException);

    private static ProblemException NotFound() => ProblemException.NotFound("The transaction");

}
