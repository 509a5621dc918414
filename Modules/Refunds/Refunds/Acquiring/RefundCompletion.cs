using Microsoft.Extensions.Logging;
using Npgsql;
using Payments.BuildingBlocks.Http;
using Payments.Refunds.Data;
using Payments.Transactions.Contracts;
using Payments.Vault.Contracts;

namespace Payments.Refunds.Acquiring;

/// <summary>
/// The second half of a refund, for the request that reserved it, a retry that resumed it and the recovery sweep alike:
/// ask the acquirer through the Vault with the reservation's attempt key (a repeated key gets the first answer, so
/// asking again never refunds twice), then book the answer. Runs with no database transaction open.
/// </summary>
internal sealed class RefundCompletion(IRefundLedger ledger, IVaultClient vault, RefundRecords records, ILogger<RefundCompletion> logger)
{
    /// <summary>The decline code of a refund whose card token was deleted: the acquirer cannot be asked.</summary>
    public const string CardUnavailable = "card_unavailable";

    /// <summary>
    /// Asks and books. <paramref name="firstCall"/>: the reservation was made by this caller just now, so no earlier
    /// call used its attempt key, and a refusal by the Vault before the acquirer means nothing was ever sent.
    /// </summary>
    public async Task<RecordedRefund> CompleteAsync(PendingRefund pending, bool firstCall)
    {
        var sent = new RefundRecord(pending.RefundTrxId, pending.MerchantId, pending.PaymentTrxId, pending.Amount, pending.Currency,
            pending.Reason, RefundRecords.Unknown, null, Booked: false);
        AcquirerOutcome outcome;
        try
        {
            // Not cancelled by the client going away: once the acquirer may be asked, its answer must be booked.
            outcome = await vault.RefundAsync(pending.MerchantId, new AcquirerRequest(pending.CardToken ?? "", pending.Amount,
                pending.Currency, pending.RefundTrxId, AttemptKey: pending.AttemptKey), CancellationToken.None);
        }
        catch (ProblemException e) when (firstCall && e.Status is 429 or 422)
        {
            // Rate limited, or the key serves another request at the Vault: this reservation's key was never sent.
            await ReleaseQuietlyAsync(pending);
            throw;
        }
        catch (VaultUnavailableException e) when (firstCall && e.NotDelivered)
        {
            // No connection to the Vault could be made: nothing was sent, so the refund is given back now rather than
            // made later by the recovery, after its merchant was told 503.
            await ReleaseQuietlyAsync(pending);
            throw;
        }
        catch (Exception e)
        {
            // No answer (or "in progress"): the acquirer may have refunded. The reservation stays held until a retry
            // with the same Idempotency-Key or the recovery sweep learns the answer from the Vault.
            logger.LogWarning("Refund {RefundTrxId} of {PaymentTrxId} got no answer from the Vault; it stays reserved until resolved: {Error}",
                pending.RefundTrxId, pending.PaymentTrxId, e.GetType().Name);
            if (e is not ProblemException)
            {
                await KeepAsync(sent);
            }
            throw;
        }
        var decision = outcome.CardFound
            ? new RefundDecision(outcome.Approved, outcome.DeclineCode, outcome.AuthorizationCode)
            : new RefundDecision(false, CardUnavailable);
        sent = sent with
        {
            AcquirerAnswer = decision.Approved ? RefundRecords.Approved : RefundRecords.Declined,
            AcquirerCode = decision.Approved ? decision.AuthorizationCode : decision.DeclineCode,
        };
        RecordedRefund recorded;
        try
        {
            recorded = await ledger.BookRefundAsync(pending, decision, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Still reserved, so the money cannot be refunded twice; a retry or the recovery books this same answer.
            logger.Log(decision.Approved ? LogLevel.Critical : LogLevel.Warning,
                "Refund {RefundTrxId} of {PaymentTrxId} was answered by the acquirer ({Answer}) but not booked; it stays reserved until resolved: {Error}",
                pending.RefundTrxId, pending.PaymentTrxId, sent.AcquirerAnswer, e.GetType().Name);
            await KeepAsync(sent);
            throw;
        }
        ledger.PublishPending();
        await KeepAsync(sent with { Booked = true });
        return recorded;
    }

    private async Task ReleaseQuietlyAsync(PendingRefund pending)
    {
        try
        {
            await ledger.ReleaseRefundAsync(pending, CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            // Held until the recovery asks the Vault with its key (which then makes the refund): never released blindly.
            logger.LogWarning("Could not give back the reservation of refund {RefundTrxId}: {Error}", pending.RefundTrxId, e.GetType().Name);
        }
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
}
