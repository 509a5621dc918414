using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Prometheus;

namespace Payments.BuildingBlocks.Observability;

/// <summary>
/// Publishes <see cref="System.Diagnostics.Metrics"/> instruments into a prometheus-net registry, named the way
/// OpenTelemetry's Prometheus conversion names them: dots to underscores, the unit as a suffix (<c>s</c> →
/// <c>_seconds</c>, <c>By</c> → <c>_bytes</c>), <c>_total</c> on counters. The gateway's own instruments get their
/// meter's name in front (<c>payments_gateway_authorizations_total</c>); the built-in ones are already namespaced by
/// the semantic conventions (<c>http_server_request_duration_seconds</c>).
/// </summary>
/// <remarks>
/// prometheus-net's own MeterAdapter (8.2.1) published no measurement at all on .NET 10 (the series never appeared),
/// and it names series after the meter and without units; this bridge is small and does what the ADR says.
/// </remarks>
internal sealed class PrometheusBridge : IDisposable
{
    /// <summary>
    /// Label sets fixed per instrument where a measurement's tags vary (a 404 has no route, a success no error). Also
    /// the tags OTLP keeps of these instruments (<see cref="Telemetry"/>'s views), <c>server.address</c> excepted.
    /// </summary>
    internal static readonly Dictionary<string, string[]> FixedLabels = new(StringComparer.Ordinal)
    {
        ["http.server.request.duration"] = ["http.request.method", "http.response.status_code", "http.route", "error.type"],
        ["http.server.active_requests"] = ["http.request.method"],
        ["http.client.request.duration"] = ["http.request.method", "http.response.status_code", "server.address", "error.type"],
        // Npgsql's pool name is the connection string (password removed): the state alone is enough.
        ["db.client.connections.usage"] = ["state"],
        ["db.client.connection.count"] = ["db.client.connection.state"],
        ["db.client.connections.max"] = [],
        ["db.client.connection.max"] = [],
        ["db.client.connections.pending_requests"] = [],
        ["db.client.connection.pending_requests"] = [],
    };

    private readonly MeterListener listener = new();
    private readonly IMetricFactory factory;
    private readonly Func<Instrument, double[]> buckets;
    private readonly ConcurrentDictionary<Instrument, Binding> bindings = new();
    private readonly IReadOnlySet<string> knownServers;

    /// <summary>The <c>server.address</c> label of a call to a host nobody configured (a merchant's webhook endpoint).</summary>
    public const string OtherServer = "other";

    /// <param name="knownServers">
    /// The hosts an outgoing call's <c>server.address</c> may name: those of the operator's configuration (the Vault).
    /// Any other (a merchant's webhook host) is <see cref="OtherServer"/>: merchant text is never a label (ADR 120).
    /// </param>
    public PrometheusBridge(CollectorRegistry registry, Func<Instrument, bool> publish, Func<Instrument, double[]> buckets,
        IReadOnlySet<string> knownServers)
    {
        factory = Metrics.WithCustomRegistry(registry);
        this.buckets = buckets;
        this.knownServers = knownServers;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (publish(instrument))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<byte>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<short>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<float>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<decimal>((i, v, t, _) => Record(i, (double)v, t));
        listener.Start();
        // Observable instruments are read when scraped.
        registry.AddBeforeCollectCallback(listener.RecordObservableInstruments);
    }

    public static string NameOf(Instrument instrument)
    {
        var name = instrument.Meter.Name.StartsWith(Telemetry.Prefix, StringComparison.Ordinal)
            ? instrument.Meter.Name + "." + instrument.Name
            : instrument.Name;
        name = Sanitize(name);
        var unit = instrument.Unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => "",
        };
        if (unit.Length > 0 && !name.EndsWith(unit, StringComparison.Ordinal))
        {
            name += unit;
        }
        return IsCounter(instrument) ? name + "_total" : name;
    }

    private static bool IsCounter(Instrument i)
    {
        var type = i.GetType().GetGenericTypeDefinition();
        return type == typeof(Counter<>) || type == typeof(ObservableCounter<>);
    }

    private static string Sanitize(string s) =>
        string.Create(s.Length, s, (span, src) =>
        {
            for (var k = 0; k < src.Length; k++)
            {
                var c = char.ToLowerInvariant(src[k]);
                span[k] = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') ? c : '_';
            }
        });

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!bindings.TryGetValue(instrument, out var binding))
        {
            binding = bindings.GetOrAdd(instrument, Bind(instrument, TagNames(tags)));
        }
        var values = new string[binding.TagNames.Length];
        for (var k = 0; k < values.Length; k++)
        {
            values[k] = "";
        }
        foreach (var tag in tags)
        {
            var at = Array.IndexOf(binding.TagNames, tag.Key);
            if (at >= 0)
            {
                var text = tag.Value?.ToString() ?? "";
                values[at] = tag.Key != "server.address" || knownServers.Contains(text) ? text : OtherServer;
            }
        }
        binding.Record(values, value);
    }

    private static string[] TagNames(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var names = new string[tags.Length];
        for (var k = 0; k < tags.Length; k++)
        {
            names[k] = tags[k].Key;
        }
        Array.Sort(names, StringComparer.Ordinal);
        return names;
    }

    private Binding Bind(Instrument instrument, string[] firstTags)
    {
        var tagNames = FixedLabels.GetValueOrDefault(instrument.Name) ?? firstTags;
        var labels = tagNames.Select(Sanitize).ToArray();
        var name = NameOf(instrument);
        var help = string.IsNullOrEmpty(instrument.Description) ? instrument.Name : instrument.Description;
        var type = instrument.GetType().GetGenericTypeDefinition();
        if (type == typeof(Counter<>))
        {
            var counter = factory.CreateCounter(name, help, labels);
            return new Binding(tagNames, (v, x) => counter.WithLabels(v).Inc(x));
        }
        if (type == typeof(ObservableCounter<>))
        {
            var counter = factory.CreateCounter(name, help, labels);
            return new Binding(tagNames, (v, x) => counter.WithLabels(v).IncTo(x));
        }
        if (type == typeof(Histogram<>))
        {
            var histogram = factory.CreateHistogram(name, help, labels, new HistogramConfiguration { Buckets = buckets(instrument) });
            return new Binding(tagNames, (v, x) => histogram.WithLabels(v).Observe(x));
        }
        var gauge = factory.CreateGauge(name, help, labels);
        return type == typeof(UpDownCounter<>)
            ? new Binding(tagNames, (v, x) => gauge.WithLabels(v).Inc(x))
            : new Binding(tagNames, (v, x) => gauge.WithLabels(v).Set(x));
    }

    public void Dispose() => listener.Dispose();

    private sealed record Binding(string[] TagNames, Action<string[], double> Record);
}
