using Payments.Perf.Measure;

namespace Payments.Perf.Tests;

/// <summary>
/// The CI variant of the load suite: every scenario and load model for about a second each, against the gateway
/// started as real processes from the Release build (test.sh builds it). It proves the suite runs end to end and that
/// the money is right afterwards; it asserts nothing about speed.
/// </summary>
public sealed class SmokeTests
{
    [Fact]
    public async Task Smoke_run_completes_every_scenario_and_the_invariants_hold()
    {
        var output = Path.Combine(Path.GetTempPath(), "payments-perf-smoke-" + Guid.NewGuid().ToString("N")[..8]);
        using var log = new StringWriter();
        SuiteResult result;
        try
        {
            result = await PerfSuite.RunAsync(PerfOptions.SmokeRun(output), log);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException("The suite failed. Its log:\n" + log, e);
        }

        Assert.True(result.Invariants is { Holds: true }, "Invariants: " + string.Join("; ", result.Invariants?.Violations ?? ["not checked"]) + "\n" + log);
        Assert.True(result.Invariants!.Payments > 0, "no payment was acknowledged\n" + log);

        // Only refunds may be missing, and only as "not available" (they arrive after this suite).
        foreach (var (scenario, why) in result.Skipped)
        {
            Assert.True(scenario == "capture-refund" && why.StartsWith("not available", StringComparison.Ordinal), $"{scenario} skipped: {why}\n{log}");
        }
        string[] expected = ["pair", "authcap", "authorize-void", "list", "mix"];
        foreach (var scenario in expected.Concat(result.Skipped.Count == 0 ? ["capture-refund"] : []))
        {
            Assert.Contains(result.Phases, p => p.Stats.Scenario == scenario && p.Stats.Iteration is { Ok: > 0 });
        }
        Assert.NotNull(result.Ramp);
        Assert.NotEmpty(result.Ramp.Steps);

        // A server error under a trickle of load is a bug, not noise.
        var serverErrors = result.Phases.SelectMany(p => p.Stats.Steps.SelectMany(s => s.Errors.Keys.Select(k => $"{p.Stats.Scenario}/{s.Name} {k}")))
            .Where(k => k.Contains(" 5", StringComparison.Ordinal) || k.Contains("transport:", StringComparison.Ordinal)).ToList();
        Assert.True(serverErrors.Count == 0, string.Join(", ", serverErrors));

        // Overload: only 2xx, 429 and 503; a merchant over its limit is refused and the other is not limited; every refused call
        // retried with its key was booked exactly once.
        var overload = result.Overload;
        Assert.NotNull(overload);
        Assert.Empty(overload.Baseline.Others.Concat(overload.Overload.Others).Concat(overload.Recovery.Others));
        Assert.True(overload.FloodRuns.Sum(f => f.FloodRefused) > 0, "the flooding merchant was never limited\n" + log);
        // The victim is never over its own limit. A 503 is not asserted here: phases of a second on a busy 2-core machine
        // can saturate the gateway, and admission then refuses anyone; the report measures that on full runs.
        Assert.Equal(0, overload.FloodRuns.Sum(f => f.WithFlood.RateLimited + f.Alone.RateLimited));
        Assert.Equal(0, overload.RetriesExhausted);
        Assert.Equal(0, overload.Duplicates);
        Assert.Equal(overload.Authorized, overload.Booked);
        Assert.Contains("## Overload", File.ReadAllText(result.MarkdownPath), StringComparison.Ordinal);

        Assert.True(result.Ceilings is { PgbenchPairTps: > 0, PgbenchAuthorizeTps: > 0, PlaintextRps: > 0 });
        Assert.Contains(result.Resources, s => s.Name == "Host" && s.MaxRssMb > 0);
        Assert.Contains(result.Resources, s => s.Name == "PostgreSQL" && s.MaxRssMb > 0);
        var md = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Contains("## Targets", md, StringComparison.Ordinal);
        Assert.Contains("HOLD", md, StringComparison.Ordinal);
        var html = await File.ReadAllTextAsync(result.HtmlPath);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Directory.Delete(output, recursive: true);
    }
}
