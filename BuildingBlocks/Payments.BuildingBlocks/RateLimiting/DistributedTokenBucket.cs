using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Payments.BuildingBlocks.RateLimiting;

/// <summary>The outcome of one request against its merchant's bucket.</summary>
public readonly record struct RateDecision(bool Allowed, int Remaining, int RetryAfterSeconds);

/// <summary>
/// One token bucket per merchant, held in Redis and shared by every Host, taken in chunks: a Host takes a few tokens at
/// a time with one atomic script and spends them locally, so a request costs no Redis round trip, and a refusal is
/// remembered until the bucket refills, so a flood costs none either. Tokens leave Redis before they are spent, so all
/// Hosts together never admit more than the bucket holds. When Redis does not answer, each Host limits on its own at
/// the rate divided by the Hosts last seen alive (<see cref="LiveHosts"/>): neither open nor closed.
/// </summary>
public sealed class DistributedTokenBucket(
    IConnectionMultiplexer redis, LiveHosts hosts, IOptions<RateLimitOptions> options, ILogger<DistributedTokenBucket> logger)
{
    internal const string KeyPrefix = "rl:bucket:";

    // KEYS[1] bucket; ARGV rate/s, burst, tokens wanted. Refills by Redis's own clock (one clock for every Host).
    // Returns {taken, tokens left (floor), ms until one token}. Values are stored as short decimals (seconds with
    // milliseconds, tokens to 3 places): a 13-digit millisecond stamp can read as a card number to a data scan.
    private static readonly LuaScript Take = LuaScript.Prepare("""
        local rate = tonumber(@rate)
        local burst = tonumber(@burst)
        local want = tonumber(@want)
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local s = redis.call('HMGET', @key, 'tokens', 'ts')
        local tokens = tonumber(s[1])
        local ts = tonumber(s[2])
        if ts ~= nil then
          ts = ts * 1000
        end
        if tokens == nil or ts == nil then
          tokens = burst
          ts = now
        end
        if now > ts then
          tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
        end
        local take = math.max(0, math.min(want, math.floor(tokens)))
        tokens = tokens - take
        redis.call('HSET', @key, 'tokens', string.format('%.3f', tokens), 'ts', string.format('%.3f', now / 1000))
        redis.call('PEXPIRE', @key, math.ceil(burst * 1000 / rate) + 1000)
        local wait = 0
        if take == 0 then
          wait = math.ceil((1 - tokens) * 1000 / rate)
        end
        return {take, math.floor(tokens), wait}
        """);

    /// <summary>Fetches one request waits through before it is refused; each takes what every waiter needs.</summary>
    private const int MaxFetchRounds = 3;

    /// <summary>The bound on fetches while each still finds tokens in Redis (each takes some, so a burst ends sooner).</summary>
    private const int MaxFetchRoundsWithTokensLeft = 16;

    // A chunk not spent within this time is dropped, so tokens held by an idle Host do not pile up into a burst.
    private static readonly long ChunkLifetime = Stopwatch.Frequency;

    private readonly ConcurrentDictionary<string, MerchantState> merchants = new(StringComparer.Ordinal);
    private long redisRetryAt;

    public async ValueTask<RateDecision> AcquireAsync(string merchantId, MerchantLimit limit, CancellationToken ct)
    {
        var state = merchants.GetOrAdd(merchantId, _ => new MerchantState());
        for (var attempt = 0; ; attempt++)
        {
            Task? pending;
            lock (state)
            {
                var now = Stopwatch.GetTimestamp();
                if (state.Tokens > 0 && now < state.ChunkExpiresAt)
                {
                    state.Tokens--;
                    return new RateDecision(true, state.Tokens + state.GlobalRemaining, 0);
                }
                if (now < state.DeniedUntil)
                {
                    return Denied(state, now);
                }
                if (now < Volatile.Read(ref redisRetryAt))
                {
                    return state.Fallback(limit, hosts.Count, now);
                }
                if (attempt >= MaxFetchRounds && (state.GlobalRemaining == 0 || attempt >= MaxFetchRoundsWithTokensLeft))
                {
                    // Others kept spending the tokens fetched for us and the last fetch emptied the bucket: it is at
                    // its limit right now. While Redis still holds tokens, waiting one more fetch is the right answer:
                    // refused then, a burst within the limit got a 429 on a loaded machine (fetches count only the
                    // requests waiting when they start, and more join while they are in flight).
                    return new RateDecision(false, 0, 1);
                }
                pending = state.Fetch ??= FetchAsync(merchantId, state, limit);
                state.Waiting++;
            }
            try
            {
                await pending.WaitAsync(ct);
            }
            finally
            {
                lock (state)
                {
                    state.Waiting--;
                }
            }
        }
    }

    private static RateDecision Denied(MerchantState state, long now) =>
        new(false, 0, Math.Max(1, (int)Math.Ceiling((state.DeniedUntil - now) / (double)Stopwatch.Frequency)));

    private async Task FetchAsync(string merchantId, MerchantState state, MerchantLimit limit)
    {
        await Task.Yield(); // never run the round trip under the caller's lock
        int want;
        lock (state)
        {
            // Enough for every request waiting on this fetch: a chunk of one token (rps under 40) left a burst of
            // concurrent requests to fetch one at a time, and refused those still waiting after a few rounds, with
            // the bucket full.
            want = Math.Clamp(Math.Max(limit.Rps / 20, state.Waiting), 1, 100);
        }
        try
        {
            var result = (RedisResult[]?)await redis.GetDatabase()
                .ScriptEvaluateAsync(Take, new { key = (RedisKey)(KeyPrefix + merchantId), rate = limit.Rps, burst = limit.Burst, want })
                .WaitAsync(options.Value.RedisTimeout);
            var taken = (int)result![0];
            var left = (int)result[1];
            var waitMs = (long)result[2];
            lock (state)
            {
                var now = Stopwatch.GetTimestamp();
                state.Tokens = taken;
                state.GlobalRemaining = left;
                state.ChunkExpiresAt = now + ChunkLifetime;
                state.DeniedUntil = taken == 0 ? now + waitMs * Stopwatch.Frequency / 1000 : 0;
                state.Fetch = null;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One second alone, then Redis is tried again; every request meanwhile is limited locally.
            Volatile.Write(ref redisRetryAt, Stopwatch.GetTimestamp() + Stopwatch.Frequency);
            logger.LogWarning("Redis did not answer the rate limiter; limiting locally at this Host's share ({Hosts} Hosts)", hosts.Count);
            lock (state)
            {
                state.Fetch = null;
            }
        }
    }

    private sealed class MerchantState
    {
        public int Tokens;
        public int GlobalRemaining;
        public long ChunkExpiresAt;
        public long DeniedUntil;
        public Task? Fetch;
        public int Waiting;
        private double localTokens = -1;
        private long localAt;

        /// <summary>A plain local token bucket at this Host's share of the limit (called under the lock).</summary>
        public RateDecision Fallback(MerchantLimit limit, int hostCount, long now)
        {
            var rate = Math.Max(1.0, limit.Rps / (double)Math.Max(1, hostCount));
            var burst = Math.Max(1.0, limit.Burst / (double)Math.Max(1, hostCount));
            localTokens = localTokens < 0 ? burst : Math.Min(burst, localTokens + (now - localAt) * rate / Stopwatch.Frequency);
            localAt = now;
            if (localTokens >= 1)
            {
                localTokens -= 1;
                return new RateDecision(true, (int)localTokens, 0);
            }
            return new RateDecision(false, 0, Math.Max(1, (int)Math.Ceiling((1 - localTokens) / rate)));
        }
    }
}
