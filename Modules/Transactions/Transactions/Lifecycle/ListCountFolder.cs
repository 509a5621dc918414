using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Payments.Transactions.Lifecycle;

/// <summary>
/// Folds the list counters' deltas into their totals once <see cref="TransactionsOptions.ListCountFoldThreshold"/>
/// of them wait (checked every <see cref="TransactionsOptions.ListCountFoldInterval"/>), so the list's total never
/// reads many. Totals are exact whether or when it runs (a delta counts until it is folded); every Host runs it, and
/// concurrent folds take disjoint deltas (migration 0006). Below the threshold it writes nothing, so a quiet gateway's
/// database changes only with requests.
/// </summary>
internal sealed class ListCountFolder(
    NpgsqlDataSource db,
    IOptions<TransactionsOptions> options,
    ILogger<ListCountFolder> logger) : BackgroundService
{
    private const int Batch = 10_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ListCountFoldInterval, TimeProvider.System);
        var failing = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await FoldAsync(stoppingToken);
                    failing = false;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Once per outage, not every second of it: totals stay exact meanwhile.
                    logger.Log(failing ? LogLevel.Debug : LogLevel.Warning, e, "Folding the list counters failed; retrying every tick");
                    failing = true;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Folds every delta there is now if at least the threshold wait; returns how many.</summary>
    internal async Task<long> FoldAsync(CancellationToken ct)
    {
        await using (var pending = db.CreateCommand("SELECT count(*) FROM (SELECT 1 FROM transactions.list_count_deltas LIMIT $1) d"))
        {
            pending.Parameters.Add(new() { Value = options.Value.ListCountFoldThreshold });
            if ((long)(await pending.ExecuteScalarAsync(ct))! < options.Value.ListCountFoldThreshold)
            {
                return 0;
            }
        }
        long total = 0;
        while (true)
        {
            await using var cmd = db.CreateCommand("SELECT transactions.fold_list_counts($1)");
            cmd.Parameters.Add(new() { Value = Batch });
            var folded = (long)(await cmd.ExecuteScalarAsync(ct))!;
            total += folded;
            if (folded < Batch)
            {
                return total;
            }
        }
    }
}
