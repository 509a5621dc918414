using System.Diagnostics;
using Payments.Perf.Api;

namespace Payments.Perf.Measure;

/// <summary>A unit of work a load model repeats: one pair, one authcap, one list page…</summary>
internal interface IScenario
{
    string Name { get; }

    /// <summary>The name under which a whole iteration is recorded (e.g. "pair").</summary>
    string IterationStep { get; }

    /// <summary>Why the scenario cannot run (e.g. the refunds route answers 404), or null.</summary>
    string? Unavailable { get; }

    /// <summary>Merchants, card tokens and data, before anything is measured.</summary>
    Task PrepareAsync(SuiteContext context);

    /// <summary>
    /// Runs iteration <paramref name="seq"/>; steps are recorded into <paramref name="phase"/>, the first one timed from
    /// <paramref name="scheduledTicks"/>. Returns the failing step's answer, or the last answer when all succeeded.
    /// </summary>
    Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks);
}

/// <summary>Result of a rate ramp: every step, and the highest rate that stayed within the bound.</summary>
internal sealed record RampResult(IReadOnlyList<PhaseStats> Steps, double SustainedRate, double LatencyBoundMs, string StopReason);

/// <summary>
/// The three load models. Open: iterations start on a fixed schedule whatever the gateway does, and latency runs from
/// the scheduled start, so queueing shows up instead of being hidden (no coordinated omission). Closed: N clients,
/// each starting its next iteration when the last one ends. Ramp: open steps at rising rates until the p99 bound,
/// errors or a falling-behind schedule stop it.
/// </summary>
internal static class LoadModels
{
    private static long sequence;

    /// <summary>In-flight iterations above which an open model stops starting new ones and records them as dropped.</summary>
    private const int MaxInFlight = 4096;

    public static async Task<PhaseStats> ClosedAsync(IScenario scenario, int clients, TimeSpan duration, long maxIterations = long.MaxValue)
    {
        var phase = new PhaseStats(scenario.Name, $"closed, {clients} clients") { IterationStep = scenario.IterationStep };
        long done = 0;
        phase.Start();
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < until && Interlocked.Increment(ref done) <= maxIterations)
            {
                await IterateAsync(scenario, phase, Stopwatch.GetTimestamp());
            }
        }));
        await Task.WhenAll(workers);
        phase.Stop();
        return phase;
    }

    public static async Task<PhaseStats> OpenAsync(IScenario scenario, double rate, TimeSpan duration)
    {
        var phase = new PhaseStats(scenario.Name, $"open, {rate:0.#}/s", rate) { IterationStep = scenario.IterationStep };
        var total = (long)Math.Max(1, Math.Round(rate * duration.TotalSeconds));
        var interval = Stopwatch.Frequency / rate;
        var running = new List<Task>();
        var inFlight = 0;
        phase.Start();
        var t0 = phase.StartTicks;
        for (long i = 0; i < total; i++)
        {
            var due = t0 + (long)(i * interval);
            var wait = due - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 500)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
            }
            if (Volatile.Read(ref inFlight) >= MaxInFlight)
            {
                phase.Record(scenario.IterationStep, due, 0, "dropped_overload");
                continue;
            }
            Interlocked.Increment(ref inFlight);
            running.Add(Task.Run(async () =>
            {
                try
                {
                    await IterateAsync(scenario, phase, due);
                }
                finally
                {
                    Interlocked.Decrement(ref inFlight);
                }
            }));
        }
        await Task.WhenAll(running);
        phase.Stop();
        return phase;
    }

    public static async Task<RampResult> RampAsync(
        IScenario scenario, double startRate, double factor, TimeSpan stepDuration, int maxSteps, double p99BoundMs, Action<PhaseStats>? onStep = null)
    {
        var steps = new List<PhaseStats>();
        var sustained = 0.0;
        var reason = "step limit reached";
        var rate = startRate;
        for (var i = 0; i < maxSteps; i++)
        {
            var phase = await OpenAsync(scenario, rate, stepDuration);
            steps.Add(phase);
            onStep?.Invoke(phase);
            var it = phase.Iteration!;
            var p99 = it.PercentileMs(99);
            // Completions inside the window: a gateway that falls behind finishes late and shows up here and in p99.
            var achieved = phase.Throughput;
            if (it.Failed > 0 || phase.TotalErrors > 0)
            {
                reason = $"errors at {rate:0}/s";
                break;
            }
            if (p99 > p99BoundMs)
            {
                reason = $"p99 {p99:0.0} ms over {p99BoundMs} ms at {rate:0}/s";
                break;
            }
            if (achieved < rate * 0.9)
            {
                reason = $"completed {achieved:0}/s of {rate:0}/s";
                break;
            }
            sustained = rate;
            rate *= factor;
        }
        return new RampResult(steps, sustained, p99BoundMs, reason);
    }

    private static async Task IterateAsync(IScenario scenario, PhaseStats phase, long scheduledTicks)
    {
        var seq = Interlocked.Increment(ref sequence);
        ApiResult res;
        try
        {
            res = await scenario.RunOnceAsync(seq, phase, scheduledTicks);
        }
        catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException)
        {
            res = new ApiResult(0, "client:" + e.GetType().Name, null);
        }
        phase.Record(scenario.IterationStep, scheduledTicks, res.Ok ? 200 : res.Status, res.Code);
    }
}
