using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Context.Propagation;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Hosting;
using Prometheus;

namespace Payments.BuildingBlocks.Observability;

/// <summary>Settings under <c>Telemetry</c>. See docs/adr/0120-telemetry.md.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>False turns everything off: no spans, no meters collected, no <c>/metrics</c> (for cost measurements).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The OTLP collector (<c>http://collector:4317</c>); <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> does the same. Unset: nothing is exported.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>
    /// Record spans (attributes, timings) even with no exporter configured; tests set it with an in-memory exporter.
    /// Unset: spans are recorded exactly when they are exported. Unrecorded, a request still gets a trace id that
    /// propagates to the Vault and into log lines, for nearly nothing.
    /// </summary>
    public bool? RecordTraces { get; set; }

    /// <summary>How often the gauges that need a query (outbox lag, webhook backlog, audit verification) are refreshed.</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// A gauge source that needs I/O (a query): refreshed by one background loop every <see cref="TelemetryOptions.SampleInterval"/>,
/// never on the scrape path. Observable gauges read the last sample.
/// </summary>
public interface ITelemetrySampler
{
    Task SampleAsync(CancellationToken ct);
}

/// <summary>
/// Traces (OpenTelemetry) and metrics (System.Diagnostics.Metrics, scraped through prometheus-net on the management
/// listener) for the Host and the Vault, configured once. Every span source and meter of the gateway is named
/// <c>Payments.*</c>.
/// </summary>
public static class Telemetry
{
    /// <summary>The prefix of every gateway <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string Prefix = "Payments.";

    /// <summary>
    /// The meters published on <c>/metrics</c> (and over OTLP), by meter name, with the instruments taken from each
    /// (null: all). Per-command and per-byte instruments (Npgsql's, Kestrel's) are left out: each measurement costs a
    /// label lookup in the adapter, and traces carry that detail.
    /// </summary>
    private static readonly Dictionary<string, HashSet<string>?> PublishedMeters = new(StringComparer.Ordinal)
    {
        ["Microsoft.AspNetCore.Hosting"] = ["http.server.request.duration", "http.server.active_requests"],
        // Of the client instruments, the request duration only, its server.address bounded by the bridge: the others
        // (open connections, connection duration, time in queue) would name merchants' webhook hosts too.
        ["System.Net.Http"] = ["http.client.request.duration"],
        ["System.Runtime"] = null,
        ["Npgsql"] =
        [
            "db.client.connections.usage", "db.client.connections.max", "db.client.connections.pending_requests",
            "db.client.connection.count", "db.client.connection.max", "db.client.connection.pending_requests",
        ],
    };

    /// <summary>Latency buckets in seconds (OpenTelemetry's advice for HTTP durations, plus 1 ms and 2.5 ms).</summary>
    internal static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    private static readonly double[] CountBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

    /// <param name="serviceUrls">
    /// URLs of the services this process calls, from the operator's configuration (the Host: <c>Vault:BaseUrl</c>): their
    /// hosts stay <c>server.address</c> labels on <c>/metrics</c>; any other host is <c>other</c>.
    /// </param>
    public static WebApplicationBuilder AddGatewayTelemetry(this WebApplicationBuilder builder, string serviceName,
        params string?[] serviceUrls)
    {
        var services = builder.Services;
        var section = builder.Configuration.GetSection(TelemetryOptions.Section);
        services.Configure<TelemetryOptions>(section);
        var options = section.Get<TelemetryOptions>() ?? new TelemetryOptions();
        // Also with telemetry off: the hosting layer still makes an activity per request, whose trace id is logged.
        TrustTraceContextOnInternalListenerOnly(services);
        if (!options.Enabled)
        {
            return builder;
        }
        var otlp = options.OtlpEndpoint is { Length: > 0 } configured ? configured : builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var exporting = !string.IsNullOrWhiteSpace(otlp);
        var record = options.RecordTraces ?? exporting;

        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceVersion: typeof(Telemetry).Assembly.GetName().Version?.ToString()))
            .WithTracing(t =>
            {
                t.AddSource(Prefix + "*")
                    .AddAspNetCoreInstrumentation(o =>
                    {
                        o.Filter = http => !IsOperatorPath(http.Request.Path);
                        // The card-entry URL carries a client secret in its query: no query text in any span.
                        o.EnrichWithHttpRequest = (activity, request) =>
                        {
                            activity.SetTag("url.query", null);
                            // A merchant may put anything in a path segment: a card number never leaves in a span.
                            if (request.Path.Value is { } path && CardNumberDetector.ContainsCardNumber(path))
                            {
                                activity.SetTag("url.path", CardNumberDetector.Redact(path));
                            }
                        };
                    })
                    .AddHttpClientInstrumentation(o =>
                    {
                        o.EnrichWithHttpRequestMessage = (activity, request) =>
                        {
                            if (request.RequestUri is { Query.Length: > 0 } uri)
                            {
                                activity.SetTag("url.full", uri.GetLeftPart(UriPartial.Path));
                                activity.SetTag("http.url", null);
                            }
                        };
                    })
                    .AddNpgsql()
                    .AddProcessor(new CardNumberScrubber())
                    // Unrecorded: the root and remote-parented spans still exist (trace ids in logs, traceparent to the
                    // Vault), nothing below them is created. Recorded: the caller's decision is followed.
                    .SetSampler(record ? RecordingSampler() : new AlwaysOffSampler());
                if (exporting)
                {
                    t.AddOtlpExporter(o => o.Endpoint = new Uri(otlp!));
                }
            });
        if (exporting)
        {
            otel.WithMetrics(m =>
            {
                m.AddMeter(Prefix + "*").AddMeter([.. PublishedMeters.Keys]).AddView(OtlpView)
                    .AddOtlpExporter(o => o.Endpoint = new Uri(otlp!));
            });
        }

        var known = serviceUrls.Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri.Host : null)
            .OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        services.AddSingleton(sp => new GatewayMetrics(sp.GetRequiredService<IMeterFactory>(), known));
        services.AddHostedService<GaugeSampling>();
        return builder;
    }

    /// <summary>
    /// Serves <c>/metrics</c> (Prometheus text) on the management listener only. The registry is this application's own
    /// (two applications in one test process keep apart), fed by a listener on the published meters.
    /// </summary>
    public static IEndpointRouteBuilder MapGatewayMetrics(this IEndpointRouteBuilder app, Action<IEndpointConventionBuilder>? configure = null)
    {
        if (app.ServiceProvider.GetService<GatewayMetrics>() is not { } metrics)
        {
            return app; // telemetry off
        }
        var endpoint = app.MapMetrics("/metrics", metrics.Registry).OnListeners(ListenerRole.Management);
        configure?.Invoke(endpoint); // the Vault marks it public to its caller check (no service token for a scraper)
        return app;
    }

    /// <summary>
    /// OTLP gets what <c>/metrics</c> gets: the curated built-in instruments only, with the bridge's fixed label sets. A view
    /// can drop a tag but not rewrite it, so <c>server.address</c> (a merchant's webhook host) is dropped outright; the
    /// Vault's calls are told apart by <c>payments.gateway.vault.call.duration</c>. The DNS meter
    /// (<c>System.Net.NameResolution</c>, which names the host looked up) is not added at all.
    /// </summary>
    private static MetricStreamConfiguration? OtlpView(Instrument instrument)
    {
        if (instrument.Meter.Name.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }
        if (!PublishedMeters.TryGetValue(instrument.Meter.Name, out var names) || (names is not null && !names.Contains(instrument.Name)))
        {
            return MetricStreamConfiguration.Drop;
        }
        return PrometheusBridge.FixedLabels.TryGetValue(instrument.Name, out var labels)
            ? new MetricStreamConfiguration { TagKeys = [.. labels.Where(l => l != "server.address")] }
            : null;
    }

    private static bool IsOperatorPath(PathString path) =>
        path.StartsWithSegments("/metrics", StringComparison.Ordinal) || path.StartsWithSegments("/health", StringComparison.Ordinal);

    /// <summary>
    /// The parent's decision holds. The only remote parent is the Host's, on the Vault's internal listener (nothing else's
    /// traceparent is read): a Host request's call is recorded in the Vault too, a background loop's poll, which the Host
    /// did not record, is not (or each poll would be a Vault trace with a parent nobody exported).
    /// </summary>
    private static ParentBasedSampler RecordingSampler() =>
        new(new RootSampler(), remoteParentSampled: new AlwaysOnSampler(), remoteParentNotSampled: new AlwaysOffSampler(),
            localParentSampled: new AlwaysOnSampler(), localParentNotSampled: new AlwaysOffSampler());

    /// <summary>
    /// An incoming <c>traceparent</c> (and baggage) is read on the Vault's internal listener only, where the Host calls.
    /// On the public listeners a merchant or a browser would choose the trace id (one that reads as a card number, or
    /// another merchant's) and force recording; their requests start traces of their own. Both readers are set: ASP.NET
    /// Core's hosting (the DI propagator) and OpenTelemetry's instrumentation, which extracts again with its own.
    /// </summary>
    private static void TrustTraceContextOnInternalListenerOnly(IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.RemoveAll<DistributedContextPropagator>();
        services.AddSingleton<DistributedContextPropagator>(sp =>
            new ListenerTrustingHostingPropagator(DistributedContextPropagator.CreateDefaultPropagator(), sp.GetRequiredService<IHttpContextAccessor>()));
        if (Propagators.DefaultTextMapPropagator is not ListenerTrustingPropagator)
        {
            Sdk.SetDefaultTextMapPropagator(new ListenerTrustingPropagator(new CompositeTextMapPropagator(
                [new TraceContextPropagator(), new BaggagePropagator()])));
        }
    }

    /// <summary>
    /// Whether a request's trace context may be continued: it came in on an internal listener. The test harness serves
    /// every role on one untagged server (<see cref="ListenerOptions.Untagged"/>); there the Host's calls are the
    /// <c>/internal</c> routes.
    /// </summary>
    private static bool TrustsTraceContext(HttpContext? http) => http?.ListenerOf() switch
    {
        ListenerRole.Internal => true,
        null => http?.Request.Path.StartsWithSegments("/internal", StringComparison.Ordinal) == true
                && http.RequestServices.GetService<IOptions<ListenerOptions>>()?.Value.Untagged is { Length: > 0 } untagged
                && Listeners.ParseRoles(untagged).Contains(ListenerRole.Internal),
        _ => false,
    };

    /// <summary>ASP.NET Core's reader: the hosting layer gives it the headers only, so the listener comes from the accessor.</summary>
    private sealed class ListenerTrustingHostingPropagator(DistributedContextPropagator inner, IHttpContextAccessor accessor)
        : DistributedContextPropagator
    {
        public override IReadOnlyCollection<string> Fields => inner.Fields;

        public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter) =>
            inner.Inject(activity, carrier, setter);

        public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState)
        {
            if (TrustsTraceContext(accessor.HttpContext))
            {
                inner.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);
                return;
            }
            traceId = null;
            traceState = null;
        }

        public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) =>
            TrustsTraceContext(accessor.HttpContext) ? inner.ExtractBaggage(carrier, getter) : null;
    }

    /// <summary>OpenTelemetry's reader (process-wide): given the request itself, and injecting as before.</summary>
    private sealed class ListenerTrustingPropagator(TextMapPropagator inner) : TextMapPropagator
    {
        public override ISet<string>? Fields => inner.Fields;

        public override PropagationContext Extract<T>(PropagationContext context, T carrier, Func<T, string, IEnumerable<string>?> getter) =>
            carrier is HttpRequest request && !TrustsTraceContext(request.HttpContext) ? context : inner.Extract(context, carrier, getter);

        public override void Inject<T>(PropagationContext context, T carrier, Action<T, string, string> setter) =>
            inner.Inject(context, carrier, setter);
    }

    /// <summary>
    /// Which traces start: requests, and the background work that does something (a relay batch, a webhook attempt, an
    /// audit commit, a group commit). A query or call with no parent is a poll of some background loop: a trace per poll would bury
    /// the ones that matter.
    /// </summary>
    private sealed class RootSampler : Sampler
    {
        private static readonly SamplingResult Sample = new(SamplingDecision.RecordAndSample);
        private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
            samplingParameters.Kind is ActivityKind.Server || samplingParameters.Name is "outbox relay" or "webhook deliver" or "audit group commit"
                    or "group commit"
                ? Sample
                : Drop;
    }

    /// <summary>
    /// The last guard before any exporter: a URL attribute or a span name holding a card number (a merchant can put one
    /// in a path, which the Host then calls the Vault with) has it redacted. Runs on recorded spans only.
    /// </summary>
    private sealed class CardNumberScrubber : BaseProcessor<Activity>
    {
        private static readonly string[] Keys = ["url.full", "url.path", "url.query", "http.url", "http.target", "server.address"];

        public override void OnEnd(Activity data)
        {
            foreach (var key in Keys)
            {
                if (data.GetTagItem(key) is string value && CardNumberDetector.ContainsCardNumber(value))
                {
                    data.SetTag(key, CardNumberDetector.Redact(value));
                }
            }
            if (CardNumberDetector.ContainsCardNumber(data.DisplayName))
            {
                data.DisplayName = CardNumberDetector.Redact(data.DisplayName);
            }
        }
    }

    /// <summary>Marks a span failed with the exception's type only: messages can carry input, never shown in telemetry.</summary>
    public static void Fail(this Activity? activity, Exception e)
    {
        activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
        activity?.SetTag("error.type", e.GetType().FullName);
    }

    /// <summary>
    /// The published instruments of this application: the gateway's meters and the curated built-in ones. Series keep
    /// their bounded label sets for the process' life (a counter never vanishes and comes back as a reset).
    /// </summary>
    internal sealed class GatewayMetrics : IDisposable
    {
        private readonly PrometheusBridge bridge;

        public GatewayMetrics(IMeterFactory meterFactory, IReadOnlySet<string> knownServers)
        {
            Registry = Metrics.NewCustomRegistry();
            bridge = new PrometheusBridge(Registry, instrument => IsPublished(instrument, meterFactory),
                instrument => instrument.Unit == "s" ? SecondsBuckets : CountBuckets, knownServers);
        }

        public CollectorRegistry Registry { get; }

        private static bool IsPublished(Instrument instrument, IMeterFactory mine)
        {
            // Meters made by another application's factory (a second app in a test process) are not ours.
            if (instrument.Meter.Scope is IMeterFactory other && !ReferenceEquals(other, mine))
            {
                return false;
            }
            if (instrument.Meter.Name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                return true;
            }
            return PublishedMeters.TryGetValue(instrument.Meter.Name, out var names) && (names is null || names.Contains(instrument.Name));
        }

        public void Dispose() => bridge.Dispose();
    }

    /// <summary>Runs every <see cref="ITelemetrySampler"/> at start and then every <see cref="TelemetryOptions.SampleInterval"/>.</summary>
    private sealed class GaugeSampling(IEnumerable<ITelemetrySampler> samplers, IOptions<TelemetryOptions> options,
        ILogger<GaugeSampling> logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            var list = samplers.ToList();
            if (list.Count == 0)
            {
                return;
            }
            // Background work of its own: no request's trace.
            Activity.Current = null;
            using var timer = new PeriodicTimer(options.Value.SampleInterval);
            do
            {
                foreach (var sampler in list)
                {
                    try
                    {
                        // The samplers' own queries are not traced.
                        using var quiet = SuppressInstrumentationScope.Begin();
                        await sampler.SampleAsync(stoppingToken);
                    }
                    catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                    {
                        return;
                    }
#pragma warning disable CA1031 // a gauge that cannot be read keeps its last value; the others go on
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        logger.LogWarning("Telemetry sampler {Sampler} failed: {Error}", sampler.GetType().Name, e.GetType().Name);
                    }
                }
            }
            while (await WaitAsync(timer, stoppingToken));
        }

        private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
        {
            try
            {
                return await timer.WaitForNextTickAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }
}
