using Payments.Perf.Measure;

namespace Payments.Perf.Scenarios;

/// <summary>What the overload phase found (issue 18's bounds are checked in the report).</summary>
internal sealed record OverloadResult(
    OverloadStats Baseline,
    OverloadStats Overload,
    OverloadStats Recovery,
    IReadOnlyList<(OverloadStats Alone, OverloadStats WithFlood, long FloodRefused)> FloodRuns,
    long Duplicates,
    long Booked,
    long Authorized,
    long RefusedThenRetried,
    long RetriesExhausted);

/// <summary>
/// Overload, measured: pairs offered at half the measured maximum (the baseline), then at twice it, then at half again
/// (recovery); then one merchant flooding at ten times its own limit while another runs pairs, against the same
/// merchant alone, three times alternating. Every call refused with 429 or 503 is retried with its key, and the
/// database must hold each pair exactly once.
/// </summary>
internal static class OverloadPhase
{
    public const int FloodLimitRps = 10;

    public static async Task<OverloadResult> RunAsync(
        SuiteContext ctx, RetryingPairScenario overload, RetryingPairScenario victim, FloodScenario flood, double maxPairsPerSecond,
        Func<string, Func<Task<PhaseStats>>, Task<PhaseStats>> measure)
    {
        var o = ctx.Options;
        var half = Math.Max(1, Math.Round(maxPairsPerSecond / 2));
        var twice = Math.Max(2, Math.Round(maxPairsPerSecond * 2));

        async Task<OverloadStats> Open(RetryingPairScenario s, string label, double rate, TimeSpan duration)
        {
            var stats = s.Current = new OverloadStats(label, rate);
            await measure(label, () => LoadModels.OpenAsync(s, rate, duration));
            return stats;
        }

        var baseline = await Open(overload, "overload: baseline at half max", half, o.OverloadDuration);
        var over = await Open(overload, "overload: twice the max", twice, o.OverloadDuration);
        var recovery = await Open(overload, "overload: recovery at half max", half, o.RecoveryDuration);

        // The victim runs a quarter of the maximum: a merchant with ordinary traffic next to the flood.
        var victimRate = Math.Max(1, Math.Round(maxPairsPerSecond / 4));
        var runs = new List<(OverloadStats, OverloadStats, long)>();
        for (var i = 0; i < o.FloodRuns; i++)
        {
            var alone = await Open(victim, $"flood {i + 1}: victim alone", victimRate, o.OverloadDuration);
            var before = Interlocked.Read(ref flood.Refused429);
            var floodTask = measure($"flood {i + 1}: the flood", () => LoadModels.OpenAsync(flood, FloodLimitRps * 10, o.OverloadDuration));
            var withFlood = await Open(victim, $"flood {i + 1}: victim with the flood", victimRate, o.OverloadDuration);
            await floodTask;
            runs.Add((alone, withFlood, Interlocked.Read(ref flood.Refused429) - before));
        }

        var (duplicates, booked) = await RetryingPairScenario.BookedAsync(ctx.Gateway.AdminConnectionString);
        long Sum(Func<OverloadStats, long> f) =>
            new[] { baseline, over, recovery }.Concat(runs.SelectMany(r => new[] { r.Item1, r.Item2 })).Sum(f);
        return new OverloadResult(baseline, over, recovery, runs, duplicates, booked,
            overload.Authorized + victim.Authorized, Sum(s => s.RefusedThenRetried), Sum(s => s.RetriesExhausted));
    }
}
