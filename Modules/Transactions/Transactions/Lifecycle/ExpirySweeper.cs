using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Data;

namespace Payments.Transactions.Lifecycle;

/// <summary>
/// Expires what is past the authorization window, every <see cref="TransactionsOptions.ExpirySweepInterval"/>.
/// Stateless: after a restart the next pass finds whatever is due, so nothing is missed. Also drops idempotency keys
/// and delivered outbox rows past their retention.
/// </summary>
internal sealed class ExpirySweeper(
    ExpiryData data,
    IdempotencyStore idempotency,
    OutboxSignal outbox,
    TimeProvider clock,
    IOptions<TransactionsOptions> options,
    ILogger<ExpirySweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ExpirySweepInterval, TimeProvider.System);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Expiry sweep failed; retrying on the next tick");
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    internal async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var expired = await data.ExpireAsync(clock.GetUtcNow(), null, ct);
        if (expired > 0)
        {
            outbox.Kick();
            logger.LogInformation("Expired {Count} authorizations", expired);
        }
        await idempotency.PurgeExpiredAsync(ct);
        await data.PurgeDeliveredOutboxAsync(ct);
        return expired;
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
