using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Payments.Auth.RateLimiting;

/// <summary>
/// Counts failed token requests per client_id and per IP in a sliding window (Redis sorted sets, shared by every
/// instance). When Redis is unreachable it does not fail open: an in-process window takes over, so each instance
/// still limits what it sees. See docs/adr/0012-token-endpoint-rate-limits.md.
/// </summary>
internal sealed class FailureLimiter(IConnectionMultiplexer redis, TimeProvider clock, IOptions<AuthOptions> options, ILogger<FailureLimiter> logger)
{
    private const string Prefix = "auth:fail:";
    private const int MaxLocalKeys = 50_000;
    private readonly ConcurrentDictionary<string, List<long>> local = new(StringComparer.Ordinal);

    /// <summary>
    /// The client id hashed (base64url SHA-256, 128 bits): a failed request's client_id is whatever the caller typed,
    /// a card number included, and must not reach Redis in clear.
    /// </summary>
    public static string ClientKey(string clientId) =>
        "client:" + System.Buffers.Text.Base64Url.EncodeToString(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(clientId)).AsSpan(0, 16));

    public static string IpKey(string ip) => "ip:" + ip;

    /// <summary>Seconds until the first limited key frees up, or null when none of them is limited.</summary>
    public async Task<int?> RetryAfterAsync(IReadOnlyList<(string Key, int Max)> keys)
    {
        int? retry = null;
        foreach (var (key, max) in keys)
        {
            var seconds = await RetryAfterAsync(key, max);
            if (seconds is { } s)
            {
                retry = Math.Max(retry ?? 0, s);
            }
        }
        return retry;
    }

    public async Task RecordFailureAsync(IReadOnlyList<string> keys)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var window = options.Value.FailureWindow;
        try
        {
            var db = redis.GetDatabase();
            foreach (var key in keys)
            {
                var redisKey = Prefix + key;
                var tx = db.CreateTransaction();
                _ = tx.SortedSetAddAsync(redisKey, Guid.NewGuid().ToString("N"), now);
                _ = tx.SortedSetRemoveRangeByScoreAsync(redisKey, double.NegativeInfinity, now - window.TotalMilliseconds, Exclude.Stop);
                _ = tx.KeyExpireAsync(redisKey, window + TimeSpan.FromMinutes(1));
                await tx.ExecuteAsync();
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning("Redis is unreachable; token failures are limited in this process only");
        }
        // Always counted locally too, so a Redis outage starts from what this instance has already seen.
        if (local.Count > MaxLocalKeys)
        {
            // Random client_ids must not grow this without bound: drop keys with nothing left in the window.
            foreach (var (k, l) in local)
            {
                lock (l)
                {
                    Trim(l, now - (long)window.TotalMilliseconds);
                    if (l.Count == 0)
                    {
                        local.TryRemove(k, out _);
                    }
                }
            }
        }
        foreach (var key in keys)
        {
            var list = local.GetOrAdd(key, _ => []);
            lock (list)
            {
                list.Add(now);
                Trim(list, now - (long)window.TotalMilliseconds);
            }
        }
    }

    private async Task<int?> RetryAfterAsync(string key, int max)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var windowMs = (long)options.Value.FailureWindow.TotalMilliseconds;
        long[] scores;
        try
        {
            var entries = await redis.GetDatabase().SortedSetRangeByScoreWithScoresAsync(
                Prefix + key, now - windowMs, double.PositiveInfinity, Exclude.Start);
            scores = entries.Select(e => (long)e.Score).ToArray();
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning("Redis is unreachable; token failures are limited in this process only");
            if (!local.TryGetValue(key, out var list))
            {
                return null;
            }
            lock (list)
            {
                Trim(list, now - windowMs);
                scores = list.ToArray();
            }
        }
        if (scores.Length < max)
        {
            return null;
        }
        // Limited until enough failures leave the window that fewer than `max` remain.
        Array.Sort(scores);
        var freesAt = scores[scores.Length - max] + windowMs;
        return (int)Math.Max(1, Math.Ceiling((freesAt - now) / 1000.0));
    }

    private static void Trim(List<long> list, long cutoff) => list.RemoveAll(t => t <= cutoff);
}
