using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.Transactions.Data;

namespace Payments.Transactions.Lifecycle;

/// <summary>
/// The daily settlement run at <see cref="TransactionsOptions.SettlementTimeOfDayUtc"/>. Each day's run is recorded by
/// its date (unique), so several Host processes run it once, and a Host that was down at the hour catches up when it
/// starts. The advisory lock inside <see cref="SettlementData.SettleAsync"/> keeps runs from overlapping.
/// </summary>
internal sealed class SettlementScheduler(
    SettlementData data,
    OutboxSignal outbox,
    TimeProvider clock,
    IOptions<TransactionsOptions> options,
    ILogger<SettlementScheduler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.ScheduledSettlement)
        {
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunDueAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Settlement run failed; retrying in a minute");
            }
            var wait = NextRunAfter(clock.GetUtcNow()) - clock.GetUtcNow();
            try
            {
                await Task.Delay(wait < TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : wait, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Runs the latest run that is due (today's once its hour passed, else yesterday's) unless it already ran.</summary>
    internal async Task<(string SettlementId, int Settled)?> RunDueAsync(CancellationToken ct)
    {
        var due = DueDate(clock.GetUtcNow());
        var run = await data.SettleAsync(null, due, ct);
        if (run is { } r)
        {
            outbox.Kick();
            logger.LogInformation("Settlement {SettlementId} for {Date} settled {Count} transactions", r.SettlementId, due, r.Settled);
        }
        return run;
    }

    internal DateOnly DueDate(DateTimeOffset now)
    {
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        return now.UtcDateTime.TimeOfDay >= options.Value.SettlementTimeOfDayUtc ? today : today.AddDays(-1);
    }

    private DateTimeOffset NextRunAfter(DateTimeOffset now)
    {
        var next = new DateTimeOffset(DueDate(now).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) + options.Value.SettlementTimeOfDayUtc;
        return next.AddDays(1);
    }
}
