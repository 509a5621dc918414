using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Http;
using Payments.Refunds.Acquiring;
using Payments.Transactions.Contracts;

namespace Payments.Refunds.Recovery;

/// <summary>
/// Resolves refund reservations left pending by a Host that died (or lost its database) between reserving and booking
/// (docs/adr/0082): each is asked of the Vault again with its stored attempt key, which answers with the acquirer's
/// first answer if it had one, and the answer is booked (approved: refunded; declined: given back). A reservation
/// whose answer cannot be learnt stays held: releasing it blindly could let the merchant refund the money twice.
/// </summary>
internal sealed class PendingRefundRecovery(
    IRefundLedger ledger,
    RefundCompletion completion,
    TimeProvider clock,
    IOptions<RefundsOptions> options,
    ILogger<PendingRefundRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.Recovery;
        if (!settings.Enabled)
        {
            return;
        }
        using var timer = new PeriodicTimer(settings.Interval, TimeProvider.System);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Refund recovery failed; retrying on the next tick: {Error}", e.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass over the reservations due; returns how many were booked.</summary>
    internal async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var settings = options.Value.Recovery;
        var booked = 0;
        // Leased for ResolveAfter: another Host's pass skips them, and a failed try is looked at again after that.
        foreach (var pending in await ledger.TakeDueReservationsAsync(settings.ResolveAfter, settings.ResolveAfter, settings.BatchSize, ct))
        {
            if (clock.GetUtcNow() - pending.CreatedAt > settings.GiveUpAfter)
            {
                logger.LogCritical(
                    "Refund {RefundTrxId} of {PaymentTrxId} ({Amount} {Currency}) has been reserved since {CreatedAt} without an answer; "
                    + "the Vault may have forgotten its attempt key, so it is held for an operator to reconcile",
                    pending.RefundTrxId, pending.PaymentTrxId, pending.Amount, pending.Currency, pending.CreatedAt);
                continue;
            }
            try
            {
                var recorded = await completion.CompleteAsync(pending, firstCall: false);
                booked++;
                logger.LogWarning("Recovered refund {RefundTrxId} of {PaymentTrxId}: booked {Status}",
                    pending.RefundTrxId, pending.PaymentTrxId, recorded.Refund.Status);
            }
            catch (ProblemException e) when (e.Status == 422)
            {
                // The Vault holds this attempt key for another request: asking again will not tell; an operator must.
                logger.LogCritical("Refund {RefundTrxId} of {PaymentTrxId} stays reserved: the Vault refused its attempt key ({Code})",
                    pending.RefundTrxId, pending.PaymentTrxId, e.Code);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("Refund {RefundTrxId} stays reserved; asked again on a later pass: {Error}", pending.RefundTrxId, e.GetType().Name);
            }
        }
        return booked;
    }
}
