using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Contracts;

namespace Payments.Transactions.Lifecycle;

/// <summary>
/// Confirms the approvals this gateway booked and has the others reversed (docs/adr/0133): the acquirer approved, but
/// the Host's commit failed, it crashed, or it refused an answer it could not authenticate, so the cardholder's funds
/// stay held with no transaction to release them. The Host's own database is the authority: an approval any of whose
/// references (the first call's trx id and its retries') is a transaction here is confirmed and never reversed.
/// </summary>
/// <remarks>
/// Only approvals last given out more than <see cref="ApprovalReconciliationOptions.ConfirmAfter"/> ago are looked at:
/// no request still in flight can book them. Before reversing, the Host holds the approval at the Vault (retries of its
/// attempt key are then refused for now; the hold fails if a retry took it since the look), and looks again.
/// </remarks>
internal sealed class ApprovalReconciler(
    IVaultApprovals vault,
    NpgsqlDataSource db,
    IOptions<TransactionsOptions> options,
    ILogger<ApprovalReconciler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.ApprovalReconciliation;
        if (!settings.Enabled)
        {
            return;
        }
        using var timer = new PeriodicTimer(settings.Interval, TimeProvider.System);
        try
        {
            // The first pass one interval after start: nothing is due sooner than ConfirmAfter anyway.
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Approval reconciliation failed; retrying on the next tick: {Error}", e.GetType().Name);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass over the approvals due; returns how many were confirmed and reversed.</summary>
    internal async Task<(int Confirmed, int Reversed)> RunOnceAsync(CancellationToken ct)
    {
        var settings = options.Value.ApprovalReconciliation;
        var confirmed = 0;
        var reversed = 0;
        foreach (var approval in await vault.ListOpenApprovalsAsync(settings.ConfirmAfter, settings.BatchSize, ct))
        {
            if (await BookedAsync(approval, ct))
            {
                confirmed += await vault.ConfirmApprovalAsync(approval.Id, ct) ? 1 : 0;
                continue;
            }
            if (!await vault.HoldApprovalAsync(approval.Id, approval.References, ct))
            {
                continue; // a retry was given it since: the next pass looks again, after ConfirmAfter
            }
            // A booking that committed between the first look and the hold.
            if (await BookedAsync(approval, ct))
            {
                confirmed += await vault.ConfirmApprovalAsync(approval.Id, ct) ? 1 : 0;
                continue;
            }
            if (await vault.ReverseApprovalAsync(approval.Id, ct) is { Reversed: true })
            {
                reversed++;
                logger.LogWarning("Reversed an approval no transaction booked (approval {ApprovalId}, merchant {MerchantId})",
                    approval.Id, approval.MerchantId);
            }
        }
        return (confirmed, reversed);
    }

    private async Task<bool> BookedAsync(OpenApproval approval, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT EXISTS (SELECT 1 FROM transactions.transactions WHERE trx_id = ANY ($1) AND merchant_id = $2)");
        cmd.Parameters.Add(new() { Value = approval.References.ToArray() });
        cmd.Parameters.Add(new() { Value = approval.MerchantId });
        return await cmd.ExecuteScalarAsync(ct) is true;
    }
}
