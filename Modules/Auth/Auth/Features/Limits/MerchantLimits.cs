using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.RateLimiting;
using StackExchange.Redis;

namespace Payments.Auth.Features.Limits;

/// <summary>
/// Each merchant's request rate: <c>auth.merchant_limits</c> is the record, each Host caches a merchant's row for
/// <see cref="RateLimitOptions.LimitCacheTtl"/>, and <c>merchant set-limits</c> publishes the change on Redis so every
/// Host drops its copy at once (the TTL bounds the delay when Redis is down).
/// </summary>
internal sealed class MerchantLimits(
    NpgsqlDataSource db,
    IConnectionMultiplexer redis,
    IOptions<RateLimitOptions> options,
    IOptions<GatewayOptions> gateway,
    TimeProvider clock,
    ILogger<MerchantLimits> logger) : IMerchantLimits, IHostedService
{
    internal static readonly RedisChannel ChangedChannel = RedisChannel.Literal("auth:limits:changed");
    private readonly ConcurrentDictionary<string, (MerchantLimit Limit, long At)> cache = new(StringComparer.Ordinal);

    public MerchantLimit Default
    {
        get
        {
            var rps = options.Value.DefaultRps ?? (gateway.Value.IsSandbox ? options.Value.SandboxRps : options.Value.LiveRps);
            return new MerchantLimit(rps, rps);
        }
    }

    public async ValueTask<MerchantLimit> GetAsync(string merchantId, CancellationToken ct)
    {
        var now = clock.GetTimestamp();
        if (cache.TryGetValue(merchantId, out var hit) && clock.GetElapsedTime(hit.At, now) < options.Value.LimitCacheTtl)
        {
            return hit.Limit;
        }
        await using var cmd = db.CreateCommand("SELECT rps, burst FROM auth.merchant_limits WHERE merchant_id = $1");
        cmd.Parameters.Add(new() { Value = merchantId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var limit = await reader.ReadAsync(ct) ? new MerchantLimit(reader.GetInt32(0), reader.GetInt32(1)) : Default;
        cache[merchantId] = (limit, now);
        return limit;
    }

    /// <summary>Sets a merchant's limit; false when there is no such merchant.</summary>
    public async Task<bool> SetAsync(string merchantId, MerchantLimit limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO auth.merchant_limits (merchant_id, rps, burst)
            SELECT id, $2, $3 FROM auth.merchants WHERE id = $1
            ON CONFLICT (merchant_id) DO UPDATE SET rps = excluded.rps, burst = excluded.burst, updated_at = now()
            """);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = limit.Rps });
        cmd.Parameters.Add(new() { Value = limit.Burst });
        if (await cmd.ExecuteNonQueryAsync(ct) == 0)
        {
            return false;
        }
        cache.TryRemove(merchantId, out _);
        try
        {
            await redis.GetSubscriber().PublishAsync(ChangedChannel, merchantId);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning("Redis is unreachable: Hosts pick up the new limit within {Ttl}", options.Value.LimitCacheTtl);
        }
        return true;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var queue = await redis.GetSubscriber().SubscribeAsync(ChangedChannel);
            queue.OnMessage(m => cache.TryRemove(m.Message.ToString(), out _));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The multiplexer resubscribes when Redis comes back; until then the TTL bounds staleness.
            logger.LogWarning("Redis is unreachable: limit changes reach this Host within {Ttl}", options.Value.LimitCacheTtl);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
