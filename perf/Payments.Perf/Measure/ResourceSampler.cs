using System.Diagnostics;
using System.Globalization;
using Payments.TestKit;

namespace Payments.Perf.Measure;

/// <summary>CPU and memory of one group of processes (PostgreSQL is its postmaster and every backend).</summary>
internal sealed class ResourceSeries(string name)
{
    public string Name { get; } = name;

    /// <summary>(seconds since start, CPU % of one core, resident MB).</summary>
    public List<(double T, double Cpu, double RssMb)> Samples { get; } = [];

    public double AvgCpu => Samples.Count == 0 ? 0 : Samples.Average(s => s.Cpu);

    public double MaxCpu => Samples.Count == 0 ? 0 : Samples.Max(s => s.Cpu);

    public double MaxRssMb => Samples.Count == 0 ? 0 : Samples.Max(s => s.RssMb);
}

/// <summary>
/// Samples <c>/proc/PID/stat</c> (utime + stime) and <c>/proc/PID/status</c> (VmRSS) once a second for the Host(s),
/// the Vault, PostgreSQL (postmaster and backends) and Redis, and the load generator itself.
/// </summary>
internal sealed class ResourceSampler : IAsyncDisposable
{
    // USER_HZ: clock ticks per second in /proc/PID/stat; 100 on every Linux this runs on.
    private const double TicksPerSecond = 100.0;
    private readonly Dictionary<string, Func<IEnumerable<int>>> groups;
    private readonly Dictionary<int, long> lastTicks = [];
    private readonly CancellationTokenSource stop = new();
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly Task loop;

    public ResourceSampler(Dictionary<string, Func<IEnumerable<int>>> groups)
    {
        this.groups = groups;
        Series = groups.Keys.Select(k => new ResourceSeries(k)).ToList();
        loop = Task.Run(RunAsync);
    }

    public IReadOnlyList<ResourceSeries> Series { get; }

    public static double Cores => Environment.ProcessorCount;

    private async Task RunAsync()
    {
        var last = clock.Elapsed.TotalSeconds;
        Sample(0);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(1000, stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            var now = clock.Elapsed.TotalSeconds;
            Sample(now - last);
            last = now;
        }
    }

    private void Sample(double dt)
    {
        var t = clock.Elapsed.TotalSeconds;
        foreach (var series in Series)
        {
            long deltaTicks = 0;
            double rss = 0;
            foreach (var pid in groups[series.Name]())
            {
                var (ticks, rssKb) = Read(pid);
                if (ticks < 0)
                {
                    continue;
                }
                deltaTicks += ticks - lastTicks.GetValueOrDefault(pid, dt == 0 ? ticks : 0);
                lastTicks[pid] = ticks;
                rss += rssKb / 1024.0;
            }
            if (dt > 0)
            {
                lock (series.Samples)
                {
                    series.Samples.Add((t, deltaTicks / TicksPerSecond / dt * 100, rss));
                }
            }
        }
    }

    private static (long Ticks, long RssKb) Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var ticks = long.Parse(ProcStat.Field(stat, 14), CultureInfo.InvariantCulture) + long.Parse(ProcStat.Field(stat, 15), CultureInfo.InvariantCulture);
            long rss = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    break;
                }
            }
            return (ticks, rss);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return (-1, 0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (stop.IsCancellationRequested)
        {
            return;
        }
        await stop.CancelAsync();
        await loop;
    }
}
