using System.Diagnostics;
using HdrHistogram;
using Payments.Perf.Api;
using Payments.Perf.Measure;

namespace Payments.Perf.Scenarios;

/// <summary>
/// What an overload phase saw, by the second an attempt was scheduled in: attempts offered, admitted (2xx), refused
/// (429, 503) and anything else; the latency of pairs whose two calls were both admitted at once, and of refusals.
/// </summary>
internal sealed class OverloadStats(string label, double rate)
{
    private readonly object gate = new();
    private readonly LongHistogram admittedPairs = new(60_000_000, 3);
    private readonly LongHistogram refusals = new(60_000_000, 3);
    private readonly Dictionary<int, LongHistogram> admittedBySecond = [];
    private readonly Dictionary<int, (long Offered, long Admitted, long Refused, long Other)> bySecond = [];
    private readonly Dictionary<string, long> others = [];
    private long rateLimited;

    public string Label { get; } = label;

    public double Rate { get; } = rate;

    public long StartTicks { get; } = Stopwatch.GetTimestamp();

    public long RefusedThenRetried;

    public long RetriesExhausted;

    public void Attempt(long startTicks, ApiResult res)
    {
        var second = Second(startTicks);
        lock (gate)
        {
            var c = bySecond.GetValueOrDefault(second);
            c.Offered++;
            if (res.Ok)
            {
                c.Admitted++;
            }
            else if (res.Status is 429 or 503)
            {
                c.Refused++;
                rateLimited += res.Status == 429 ? 1 : 0;
                refusals.RecordValue(Micros(startTicks));
            }
            else
            {
                c.Other++;
                var key = res.Status == 0 ? $"transport:{res.Code}" : $"{res.Status}:{res.Code}";
                others[key] = others.GetValueOrDefault(key) + 1;
            }
            bySecond[second] = c;
        }
    }

    public void AdmittedPair(long scheduledTicks)
    {
        var micros = Micros(scheduledTicks);
        var second = Second(scheduledTicks);
        lock (gate)
        {
            admittedPairs.RecordValue(micros);
            if (!admittedBySecond.TryGetValue(second, out var h))
            {
                admittedBySecond[second] = h = new LongHistogram(60_000_000, 3);
            }
            h.RecordValue(micros);
        }
    }

    public double AdmittedPairP99Ms => P(admittedPairs, 99);

    public long AdmittedPairCount { get { lock (gate) { return admittedPairs.TotalCount; } } }

    public double RefusalP99Ms => P(refusals, 99);

    public long Refused { get { lock (gate) { return bySecond.Values.Sum(c => c.Refused); } } }

    /// <summary>The refusals that were 429 (a merchant's own limit), not 503 (the gateway's admission).</summary>
    public long RateLimited { get { lock (gate) { return rateLimited; } } }

    public long Other { get { lock (gate) { return bySecond.Values.Sum(c => c.Other); } } }

    public IReadOnlyDictionary<string, long> Others { get { lock (gate) { return new Dictionary<string, long>(others); } } }

    /// <summary>p99 of the admitted pairs scheduled from <paramref name="fromSecond"/> on.</summary>
    public double AdmittedP99From(int fromSecond)
    {
        lock (gate)
        {
            var h = new LongHistogram(60_000_000, 3);
            foreach (var (s, part) in admittedBySecond.Where(kv => kv.Key >= fromSecond))
            {
                h.Add(part);
            }
            return h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(99) / 1000.0;
        }
    }

    public IReadOnlyList<(int Second, long Offered, long Admitted, long Refused, long Other, double AdmittedP99Ms)> Timeline
    {
        get
        {
            lock (gate)
            {
                return [.. bySecond.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value.Offered, kv.Value.Admitted, kv.Value.Refused, kv.Value.Other,
                    admittedBySecond.TryGetValue(kv.Key, out var h) && h.TotalCount > 0 ? h.GetValueAtPercentile(99) / 1000.0 : 0))];
            }
        }
    }

    private int Second(long ticks) => (int)Math.Max(0, (ticks - StartTicks) / Stopwatch.Frequency);

    private static long Micros(long startTicks) => Math.Max(1, (Stopwatch.GetTimestamp() - startTicks) * 1_000_000 / Stopwatch.Frequency);

    private double P(LongHistogram h, double p)
    {
        lock (gate)
        {
            return h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(p) / 1000.0;
        }
    }
}

/// <summary>
/// Authorize then capture, as a merchant's client does under overload: a call refused with 429 or 503 is sent again
/// after <c>Retry-After</c> (plus jitter) with the same <c>Idempotency-Key</c>, until it is admitted. Each first attempt
/// is counted in <see cref="Current"/>; the pair's latency is recorded only when both calls were admitted at once.
/// Order ids carry the <c>ovl</c> prefix, so the run can check that every pair was booked exactly once.
/// </summary>
internal sealed class RetryingPairScenario(string name = "overload") : MerchantScenario(name, "pair.eventual")
{
    public const string OrderPrefix = "ovl";
    private const int MaxAttempts = 30;

    public OverloadStats Current { get; set; } = new("-", 0);

    public long Iterations;

    public long Authorized;

    public override async Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks)
    {
        var stats = Current;
        Interlocked.Increment(ref Iterations);
        var m = MerchantFor(seq);
        var amount = AmountFor(seq);
        var (auth, authAtOnce) = await WithRetriesAsync(stats, scheduledTicks,
            (key, start) => Api.AuthorizeAsync(m, "authorize", amount, seq, null, "authorize", start, key, OrderPrefix));
        if (auth.Status != 201 || auth.Str("trx_id") is not { } trx)
        {
            return auth;
        }
        Interlocked.Increment(ref Authorized);
        var (capture, captureAtOnce) = await WithRetriesAsync(stats, Stopwatch.GetTimestamp(),
            (key, start) => Api.OperateAsync(m, trx, "capture", amount, null, "capture", start, key));
        if (capture.Ok && authAtOnce && captureAtOnce)
        {
            stats.AdmittedPair(scheduledTicks);
        }
        return capture;
    }

    private static async Task<(ApiResult Result, bool AtOnce)> WithRetriesAsync(
        OverloadStats stats, long firstStart, Func<string, long, Task<ApiResult>> send)
    {
        var key = Guid.NewGuid().ToString("N");
        var start = firstStart;
        for (var attempt = 0; ; attempt++)
        {
            var res = await send(key, start);
            if (attempt == 0)
            {
                stats.Attempt(start, res);
            }
            if (res.Status is not (429 or 503))
            {
                if (attempt > 0)
                {
                    Interlocked.Increment(ref stats.RefusedThenRetried);
                }
                return (res, attempt == 0);
            }
            if (attempt == MaxAttempts)
            {
                Interlocked.Increment(ref stats.RetriesExhausted);
                return (res, false);
            }
            // Retry-After is whole seconds; the jitter keeps refused clients from coming back in one wave.
            await Task.Delay(TimeSpan.FromSeconds(RetryAfterOf(res)) + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 500)));
            start = Stopwatch.GetTimestamp();
        }
    }

    private static double RetryAfterOf(ApiResult res) => res.RetryAfterSeconds ?? 1;

    /// <summary>Pairs booked more than once, and how many distinct pairs were booked, from the database.</summary>
    public static async Task<(long Duplicates, long Booked)> BookedAsync(string adminConnectionString)
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(adminConnectionString) { Database = "payments" }.ConnectionString;
        await using var db = Npgsql.NpgsqlDataSource.Create(cs);
        await using var cmd = db.CreateCommand($"""
            SELECT count(*) FILTER (WHERE n > 1), count(*)
            FROM (SELECT order_id, count(*) AS n FROM transactions.transactions
                  WHERE type = 'PAYMENT' AND order_id LIKE '{OrderPrefix}-%' GROUP BY order_id) per_order
            """);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}

/// <summary>One merchant sending authorizations far over its own limit, with no retries: the flood.</summary>
internal sealed class FloodScenario() : MerchantScenario("flood", "flood")
{
    public long Refused429;

    public long Shed503;

    public override async Task PrepareAsync(SuiteContext context)
    {
        await base.PrepareAsync(context);
        foreach (var m in Merchants)
        {
            await context.Gateway.RunHostCommandAsync("merchant", "set-limits", "--merchant-id", m.MerchantId, "--rps", $"{OverloadPhase.FloodLimitRps}");
        }
    }

    public override async Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks)
    {
        var res = await Api.AuthorizeAsync(MerchantFor(seq), "authorize", AmountFor(seq), seq, null, "flood", scheduledTicks, orderPrefix: "flood");
        if (res.Status == 429)
        {
            Interlocked.Increment(ref Refused429);
            return new ApiResult(200, null, null); // refused as designed: not an error of the flood
        }
        if (res.Status == 503 && res.Code == "overloaded")
        {
            Interlocked.Increment(ref Shed503);
            return new ApiResult(200, null, null); // shed at the door, also as designed (admission comes before the limit)
        }
        return res;
    }
}
