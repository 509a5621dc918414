using System.Globalization;
using System.Text.RegularExpressions;

namespace Payments.Perf.Measure;

/// <summary>One server-side latency histogram series: cumulative bucket counts by upper bound, the sum and the count.</summary>
internal sealed record HistogramSeries(string Process, string Name, string Step, SortedDictionary<double, double> Buckets, double Sum, double Count);

/// <summary>A step's server-side latency over a phase (the difference of two scrapes).</summary>
internal sealed record ServerStep(string Process, string Step, double Count, double MeanMs, double P50Ms, double P99Ms)
{
    /// <summary>Exceptions thrown in the process over the phase, of the type named by <see cref="Step"/>; no latency.</summary>
    public bool Exceptions { get; init; }
}

/// <summary>
/// Scrapes the gateway's <c>/metrics</c> (management listeners) around each phase and turns the histograms the Host and
/// the Vault publish into per-step server-side latency: what the processes spent, next to what the clients saw.
/// </summary>
internal sealed partial class ServerMetrics(IReadOnlyList<(string Process, Uri Metrics)> targets) : IDisposable
{
    /// <summary>Histogram family → the label that names its step.</summary>
    private static readonly Dictionary<string, string> Families = new(StringComparer.Ordinal)
    {
        ["http_server_request_duration_seconds"] = "http_route",
        ["payments_gateway_vault_call_duration_seconds"] = "operation",
        ["payments_vault_card_use_duration_seconds"] = "operation",
        ["payments_vault_audit_commit_duration_seconds"] = "",
    };

    /// <summary>The runtime's counter of thrown exceptions, by type: what the hot path throws (issue 17, How 8).</summary>
    private const string ExceptionsFamily = "dotnet_exceptions_total";

    private readonly HttpClient http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Every histogram series of interest now; empty when telemetry is off (no <c>/metrics</c>).</summary>
    public async Task<List<HistogramSeries>> ScrapeAsync()
    {
        var all = new List<HistogramSeries>();
        foreach (var (process, url) in targets)
        {
            try
            {
                using var response = await http.GetAsync(url);
                if (response.IsSuccessStatusCode)
                {
                    all.AddRange(Parse(process, await response.Content.ReadAsStringAsync()));
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
        }
        return all;
    }

    /// <summary>What happened between two scrapes, per step with requests in it.</summary>
    public static List<ServerStep> Delta(List<HistogramSeries> before, List<HistogramSeries> after)
    {
        var steps = new List<ServerStep>();
        foreach (var a in after)
        {
            var b = before.FirstOrDefault(x => x.Process == a.Process && x.Name == a.Name && x.Step == a.Step);
            var count = a.Count - (b?.Count ?? 0);
            if (count < 1)
            {
                continue;
            }
            var buckets = a.Buckets.ToDictionary(kv => kv.Key, kv => kv.Value - (b?.Buckets.GetValueOrDefault(kv.Key) ?? 0));
            var mean = (a.Sum - (b?.Sum ?? 0)) / count * 1000;
            steps.Add(a.Name == ExceptionsFamily
                ? new ServerStep(a.Process, a.Step, count, 0, 0, 0) { Exceptions = true }
                : new ServerStep(a.Process, a.Step, count, mean, Quantile(buckets, count, 0.50) * 1000, Quantile(buckets, count, 0.99) * 1000));
        }
        return [.. steps.OrderBy(s => s.Process, StringComparer.Ordinal).ThenByDescending(s => s.Count)];
    }

    /// <summary>Linear interpolation inside the bucket holding the rank, as Prometheus' histogram_quantile does.</summary>
    private static double Quantile(Dictionary<double, double> cumulative, double count, double q)
    {
        var rank = q * count;
        double lower = 0, below = 0;
        foreach (var (bound, c) in cumulative.OrderBy(kv => kv.Key))
        {
            if (c >= rank)
            {
                if (double.IsPositiveInfinity(bound))
                {
                    return lower;
                }
                return lower + (bound - lower) * ((rank - below) / Math.Max(1e-9, c - below));
            }
            lower = bound;
            below = c;
        }
        return lower;
    }

    internal static IEnumerable<HistogramSeries> Parse(string process, string text)
    {
        var series = new Dictionary<(string Name, string Step), (SortedDictionary<double, double> Buckets, double Sum, double Count)>();
        foreach (var line in text.Split('\n'))
        {
            if (Counter().Match(line) is { Success: true } c && c.Groups["name"].Value == ExceptionsFamily)
            {
                var type = Label().Matches(c.Groups["labels"].Value).FirstOrDefault(l => l.Groups[1].Value == "error_type")?.Groups[2].Value ?? "(none)";
                var total = double.Parse(c.Groups["value"].Value, CultureInfo.InvariantCulture);
                var prior = series.GetValueOrDefault((ExceptionsFamily, type), (new SortedDictionary<double, double>(), 0, 0));
                series[(ExceptionsFamily, type)] = (prior.Buckets, 0, prior.Count + total);
                continue;
            }
            var m = Sample().Match(line);
            if (!m.Success || !Families.TryGetValue(m.Groups["name"].Value, out var stepLabel))
            {
                continue;
            }
            var labels = Label().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            var step = stepLabel.Length == 0 ? "commit" : labels.GetValueOrDefault(stepLabel, "(none)");
            if (labels.TryGetValue("http_request_method", out var method))
            {
                step = method + " " + step;
            }
            // Refusals apart: how fast the gateway itself refuses, next to what the load generator (sharing the
            // cores) measured.
            if (labels.TryGetValue("http_response_status_code", out var status) && status is "429" or "503")
            {
                step += " → " + status;
            }
            var key = (m.Groups["name"].Value, step);
            var s = series.GetValueOrDefault(key, (new SortedDictionary<double, double>(), 0, 0));
            var value = double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            switch (m.Groups["suffix"].Value)
            {
                case "_bucket":
                    var le = labels["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(labels["le"], CultureInfo.InvariantCulture);
                    // Several label sets (status codes, outcomes) of one step add up.
                    s.Buckets[le] = s.Buckets.GetValueOrDefault(le) + value;
                    break;
                case "_sum":
                    s.Sum += value;
                    break;
                case "_count":
                    s.Count += value;
                    break;
            }
            series[key] = s;
        }
        return series.Select(kv => new HistogramSeries(process, kv.Key.Name, kv.Key.Step, kv.Value.Buckets, kv.Value.Sum, kv.Value.Count));
    }

    public void Dispose() => http.Dispose();

    // Greedy to the last brace: a route label holds braces of its own ("/v1/transactions/{trx_id}").
    [GeneratedRegex(@"^(?<name>[a-z_]+?)(?<suffix>_bucket|_sum|_count)(\{(?<labels>.*)\})? (?<value>\S+)$")]
    private static partial Regex Sample();

    [GeneratedRegex(@"([a-z_]+)=""([^""]*)""")]
    private static partial Regex Label();

    [GeneratedRegex(@"^(?<name>[a-z_]+_total)(\{(?<labels>.*)\})? (?<value>\S+)$")]
    private static partial Regex Counter();
}
