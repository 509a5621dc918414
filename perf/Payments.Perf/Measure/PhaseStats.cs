using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace Payments.Perf.Measure;

/// <summary>Latency and outcome of one step (one HTTP call, or a whole iteration such as the pair) within a phase.</summary>
internal sealed class StepStats(string name)
{
    private readonly object gate = new();

    // Microseconds, 1 µs to 60 s at 3 significant digits.
    private readonly LongHistogram histogram = new(60_000_000, 3);
    private readonly Dictionary<string, long> errors = [];
    private readonly Dictionary<int, long> perSecond = [];

    public string Name { get; } = name;

    public long Ok { get; private set; }

    public long Failed { get; private set; }

    public long Requests => Ok + Failed;

    public void Record(long startTicks, long endTicks, long phaseStartTicks, int status, string? code)
    {
        var micros = Math.Max(1, (endTicks - startTicks) * 1_000_000 / Stopwatch.Frequency);
        var second = (int)((endTicks - phaseStartTicks) / Stopwatch.Frequency);
        lock (gate)
        {
            histogram.RecordValue(Math.Min(micros, histogram.HighestTrackableValue));
            perSecond[second] = perSecond.GetValueOrDefault(second) + 1;
            if (status is >= 200 and < 300)
            {
                Ok++;
            }
            else
            {
                Failed++;
                var key = status == 0 ? $"transport:{code}" : $"{status}:{code ?? "-"}";
                errors[key] = errors.GetValueOrDefault(key) + 1;
            }
        }
    }

    /// <summary>A value-percentile in milliseconds (HdrHistogram's, so p99.9 and max are exact to 3 digits).</summary>
    public double PercentileMs(double p)
    {
        lock (gate)
        {
            return histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(p) / 1000.0;
        }
    }

    public double MaxMs
    {
        get
        {
            lock (gate)
            {
                return histogram.TotalCount == 0 ? 0 : histogram.GetMaxValue() / 1000.0;
            }
        }
    }

    public IReadOnlyDictionary<string, long> Errors
    {
        get
        {
            lock (gate)
            {
                return new Dictionary<string, long>(errors);
            }
        }
    }

    /// <summary>Completions per whole second since the phase started.</summary>
    public IReadOnlyList<(int Second, long Count)> Timeline
    {
        get
        {
            lock (gate)
            {
                return perSecond.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)).ToList();
            }
        }
    }

    /// <summary>(percentile, ms) points for the percentile plot, from p0 to p99.99.</summary>
    public IReadOnlyList<(double Percentile, double Ms)> PercentileCurve()
    {
        double[] ps = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];
        lock (gate)
        {
            return histogram.TotalCount == 0
                ? []
                : ps.Select(p => (p, histogram.GetValueAtPercentile(p) / 1000.0)).ToList();
        }
    }
}

/// <summary>One measured phase: a scenario under one load model (e.g. "pair, open 200/s").</summary>
internal sealed class PhaseStats(string scenario, string model, double targetRate = 0)
{
    private readonly ConcurrentDictionary<string, StepStats> steps = new();
    private readonly List<string> order = [];

    public string Scenario { get; } = scenario;

    public string Model { get; } = model;

    /// <summary>The open model's arrival rate (iterations/s); 0 for a closed model.</summary>
    public double TargetRate { get; } = targetRate;

    public long StartTicks { get; private set; }

    public long EndTicks { get; private set; }

    public double Seconds => (EndTicks - StartTicks) / (double)Stopwatch.Frequency;

    /// <summary>The name of the step that stands for a whole iteration (its throughput is the scenario's).</summary>
    public string IterationStep { get; set; } = "";

    public IEnumerable<StepStats> Steps
    {
        get
        {
            lock (order)
            {
                return order.Select(n => steps[n]).ToList();
            }
        }
    }

    public StepStats Step(string name) => steps.GetOrAdd(name, n =>
    {
        lock (order)
        {
            order.Add(n);
        }
        return new StepStats(n);
    });

    public void Start() => StartTicks = Stopwatch.GetTimestamp();

    public void Stop() => EndTicks = Stopwatch.GetTimestamp();

    public void Record(string step, long startTicks, int status, string? code) =>
        Step(step).Record(startTicks, Stopwatch.GetTimestamp(), StartTicks, status, code);

    public StepStats? Iteration => string.IsNullOrEmpty(IterationStep) ? Steps.FirstOrDefault() : steps.GetValueOrDefault(IterationStep);

    /// <summary>Successful iterations per second over the phase.</summary>
    public double Throughput => Seconds <= 0 || Iteration is null ? 0 : Iteration.Ok / Seconds;

    public long TotalErrors => Steps.Where(s => s.Name != IterationStep).Sum(s => s.Failed);
}
