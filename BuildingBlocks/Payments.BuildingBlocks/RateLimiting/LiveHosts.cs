using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Payments.BuildingBlocks.RateLimiting;

/// <summary>
/// How many Hosts are serving: each one beats every two seconds in a Redis sorted set, and the count is the beats of
/// the last ten seconds. The rate limiter divides a merchant's rate by it when Redis is down, so the last count seen is kept.
/// </summary>
public sealed class LiveHosts(IConnectionMultiplexer redis, TimeProvider clock) : BackgroundService
{
    internal const string Key = "rl:hosts";
    // Letters and digits, never a long run of digits that a card-data scan of Redis would flag.
    private readonly string id = Ids.PrefixedId.New("hst");
    private volatile int count = 1;

    public int Count => count;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2), clock);
        do
        {
            try
            {
                var db = redis.GetDatabase();
                var now = clock.GetUtcNow().ToUnixTimeSeconds(); // seconds: a millisecond stamp has 13 digits
                var batch = db.CreateBatch();
                _ = batch.SortedSetAddAsync(Key, id, now);
                _ = batch.SortedSetRemoveRangeByScoreAsync(Key, double.NegativeInfinity, now - 10);
                var live = batch.SortedSetLengthAsync(Key);
                batch.Execute();
                count = (int)Math.Max(1, await live);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
            {
                // Redis is down: keep the last count, which is what the local limits divide by.
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await redis.GetDatabase().SortedSetRemoveAsync(Key, id);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            // It ages out of the set in ten seconds anyway.
        }
    }
}
