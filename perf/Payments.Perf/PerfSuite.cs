using System.Diagnostics;
using Payments.Perf.Api;
using Payments.Perf.Data;
using Payments.Perf.Measure;
using Payments.Perf.Reference;
using Payments.Perf.Report;
using Payments.Perf.Scenarios;
using Payments.TestKit;

namespace Payments.Perf;

/// <summary>A measured phase and where it sits on the run's clock (for the resource plots).</summary>
internal sealed record PhaseRecord(PhaseStats Stats, double StartSecond, double EndSecond, string Purpose)
{
    /// <summary>Server-side latency per step over the phase, from the gateway's histograms (empty with telemetry off).</summary>
    public IReadOnlyList<ServerStep> ServerSide { get; init; } = [];
}

/// <summary>Everything a run found.</summary>
internal sealed class SuiteResult
{
    public required PerfOptions Options { get; init; }

    public Ceilings? Ceilings { get; set; }

    public List<PhaseRecord> Phases { get; } = [];

    public RampResult? Ramp { get; set; }

    public OverloadResult? Overload { get; set; }

    /// <summary>Scenario → why it did not run.</summary>
    public Dictionary<string, string> Skipped { get; } = [];

    public List<string> Notes { get; } = [];

    public InvariantReport? Invariants { get; set; }

    public IReadOnlyList<ResourceSeries> Resources { get; set; } = [];

    public double MaxPairsPerSecond { get; set; }

    /// <summary>PostgreSQL statements during the measured phases (warm-ups included), most time first.</summary>
    public IReadOnlyList<SqlStatement> Sql { get; set; } = [];

    public string MarkdownPath { get; set; } = "";

    public string HtmlPath { get; set; } = "";

    public PhaseRecord? Find(string scenario, string purpose) =>
        Phases.LastOrDefault(p => p.Stats.Scenario == scenario && p.Purpose == purpose);
}

/// <summary>
/// One run: start the gateway (Release build, loopback, PostgreSQL with fsync on), measure the ceilings, prepare
/// every scenario, measure, check the invariants in the database, write the reports.
/// </summary>
internal static class PerfSuite
{
    public static async Task<SuiteResult> RunAsync(PerfOptions o, TextWriter log)
    {
        var result = new SuiteResult { Options = o };
        Directory.CreateDirectory(o.OutputDirectory);
        log.WriteLine($"Starting the gateway ({o.HostCount} Host, Release build, PostgreSQL with fsync on)…");
        await using var gw = await GatewayProcesses.StartAsync(new GatewayProcessOptions
        {
            HostCount = o.HostCount,
            Durable = true,
            Configuration = "Release",
            // A full run (a million rows seeded) can outlast the default 15-minute token; the lifetime costs nothing per request.
            HostEnvironment = new Dictionary<string, string>(o.ServerEnvironment)
            {
                ["Auth__TokenLifetime"] = "01:00:00",
                // The product's admission control, not the test kit's patient queue: the overload phase measures it.
                ["Admission__MaxConcurrent"] = $"{o.Admission.MaxConcurrent}",
                ["Admission__QueueLimit"] = $"{o.Admission.QueueLimit}",
                ["Admission__QueueTimeout"] = o.Admission.QueueTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
                ["Admission__OverloadQueueLimit"] = $"{o.Admission.OverloadQueueLimit}",
                ["Admission__OverloadQueueTimeout"] = o.Admission.OverloadQueueTimeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
                ["Telemetry__Enabled"] = o.Telemetry ? "true" : "false",
            },
            VaultEnvironment = new Dictionary<string, string>(o.ServerEnvironment) { ["Telemetry__Enabled"] = o.Telemetry ? "true" : "false" },
            PostgresOptions = SqlProfile.ServerOptions,
        });
        log.WriteLine($"  Host {gw.HostUrl}  Vault {gw.VaultUrl}  PostgreSQL :{gw.PostgresPort}  logs {gw.WorkDirectory}");
        var redisPid = await gw.RedisPidAsync();
        var self = Environment.ProcessId;
        var clock = Stopwatch.StartNew();
        await using var sampler = new ResourceSampler(new Dictionary<string, Func<IEnumerable<int>>>
        {
            ["Host"] = () => gw.Hosts.Select(h => h.Pid).OfType<int>(),
            ["Vault"] = () => gw.Vault.Pid is int v ? [v] : [],
            ["PostgreSQL"] = () => gw.PostgresPid is int p ? ProcStat.ChildrenOf(p).Prepend(p) : [],
            ["Redis"] = () => [redisPid],
            ["load generator"] = () => [self],
        });
        using var api = new GatewayApi(gw.HostUrl, gw.VaultUrl, o.IdempotencyKeys);
        using var metrics = new ServerMetrics([.. gw.Hosts.Select((h, i) => ("Host" + (gw.Hosts.Count > 1 ? (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : ""), new Uri($"http://127.0.0.1:{gw.ManagementPortOf(h.Port)}/metrics"))),
            ("Vault", new Uri($"http://127.0.0.1:{gw.ManagementPortOf(gw.Vault.Port)}/metrics"))]);
        if (!o.Telemetry)
        {
            result.Notes.Add("Run with telemetry OFF (--telemetry off): no server-side latency, no /metrics.");
        }
        if (!o.IdempotencyKeys)
        {
            result.Notes.Add("Run WITHOUT Idempotency-Key headers (--no-idempotency-keys): the idempotency path is not measured.");
        }
        if (o.ServerEnvironment.Count > 0)
        {
            result.Notes.Add("Host and Vault run with " + string.Join(", ", o.ServerEnvironment.Select(e => $"{e.Key}={e.Value}")) + " (--server-env).");
        }
        if (o.GeneratorNice is int nice and not 0 && GeneratorPriority.Raise(nice, log) is { } runNote)
        {
            result.Notes.Add(runNote);
        }
        var ctx = new SuiteContext(gw, api, o, log);

        var warmed = new HashSet<string>();
        async Task<PhaseStats> Measure(string purpose, Func<Task<PhaseStats>> run, IScenario? warmUp = null)
        {
            // Unrecorded iterations first, so the figures are the steady state a gateway runs in for days: on two cores the
            // runtime's tiered JIT kept recompiling hot methods for over a minute of load (11% of the machine's CPU in
            // a profile 30 s in), and connection pools, prepared statements and caches fill on first use.
            if (warmUp is not null && warmed.Add(warmUp.Name))
            {
                await LoadModels.ClosedAsync(warmUp, o.Smoke ? 2 : 8, o.WarmUp, o.Smoke ? 10 : long.MaxValue);
            }
            var before = await metrics.ScrapeAsync();
            var start = clock.Elapsed.TotalSeconds;
            var phase = await run();
            var end = clock.Elapsed.TotalSeconds;
            result.Phases.Add(new PhaseRecord(phase, start, end, purpose) { ServerSide = ServerMetrics.Delta(before, await metrics.ScrapeAsync()) });
            var it = phase.Iteration;
            log.WriteLine($"  {phase.Scenario,-15} {phase.Model,-22} {it?.Ok,7} ok {it?.Failed,5} failed  {phase.Throughput,8:0.0}/s  " +
                          $"p50 {it?.PercentileMs(50),6:0.00}  p99 {it?.PercentileMs(99),7:0.00}  max {it?.MaxMs,7:0.0} ms");
            return phase;
        }

        // The machine's ceilings, in the same run.
        log.WriteLine("Reference ceilings…");
        var pg = await CeilingRuns.PgbenchCeilingsAsync(gw.AdminConnectionString, o.PgbenchClients, o.ReferenceDuration, gw.WorkDirectory, log);
        var plain = await Measure("reference", () => CeilingRuns.PlaintextAsync(o.PlaintextClients, o.ReferenceDuration));
        var floor = await CeilingRuns.PgbenchGatewaySqlAsync(gw.AdminConnectionString, o.PgbenchClients, o.ReferenceDuration, gw.WorkDirectory, log);
        result.Ceilings = new Ceilings(pg.Authorize, pg.Pair, plain.Throughput, o.PgbenchClients, $"{o.PgbenchClients} clients, {o.ReferenceDuration.TotalSeconds:0} s each, -M prepared")
        {
            PgbenchGatewaySqlTps = floor,
        };

        var pair = new PairScenario();
        var authcap = new AuthcapScenario();
        var voids = new VoidScenario();
        var refund = new RefundScenario();
        var list = new ListScenario();
        var mix = new MixScenario(list);
        var overload = new RetryingPairScenario();
        var victim = new RetryingPairScenario("victim");
        var flood = new FloodScenario();
        IScenario[] all = [pair, authcap, voids, refund, list, mix, overload, victim, flood];
        log.WriteLine("Preparing merchants, card tokens and data…");
        foreach (var s in all.Where(s => o.Runs(s.Name) || (s == list && o.Runs("mix")) || ((s == victim || s == flood) && o.Runs("overload"))))
        {
            try
            {
                await s.PrepareAsync(ctx);
            }
            catch (Exception e) when (e is InvalidOperationException or System.Text.Json.JsonException)
            {
                // A route the contract names but the gateway does not serve yet: say so in the report and go on.
                result.Skipped[s.Name] = "preparation failed: " + e.Message;
                log.WriteLine($"  {s.Name}: preparation failed: {e.Message}");
                continue;
            }
            if (s.Unavailable is not null)
            {
                result.Skipped[s.Name] = s.Unavailable;
                log.WriteLine($"  {s.Name}: {s.Unavailable}");
            }
        }
        if (list.SeedNote.Length > 0)
        {
            result.Notes.Add("list: " + list.SeedNote);
        }
        if (o.Runs("mix"))
        {
            result.Notes.Add("mix: " + mix.Weights);
        }

        log.WriteLine("Measuring…");
        await SqlProfile.ResetAsync(gw.AdminConnectionString);
        bool Ready(IScenario s) => o.Runs(s.Name) && !result.Skipped.ContainsKey(s.Name);
        if (Ready(pair))
        {
            var closed = await Measure("max", () => LoadModels.ClosedAsync(pair, o.ClosedClients, o.ClosedDuration), pair);
            result.MaxPairsPerSecond = closed.Throughput;
            var ramp = await LoadModels.RampAsync(pair, o.RampStartRate, o.RampFactor, o.RampStepDuration, o.RampMaxSteps, o.P99BoundMs,
                step => result.Phases.Add(new PhaseRecord(step, clock.Elapsed.TotalSeconds - step.Seconds, clock.Elapsed.TotalSeconds, "ramp")));
            result.Ramp = ramp;
            log.WriteLine($"  ramp: sustained {ramp.SustainedRate:0}/s within p99 {o.P99BoundMs} ms; stopped: {ramp.StopReason}");
            var openRate = o.OpenRate ?? Math.Max(1, Math.Round(Math.Max(closed.Throughput, ramp.SustainedRate) / 2));
            await Measure(o.OpenRate is null ? "half-max" : "fixed rate", () => LoadModels.OpenAsync(pair, openRate, o.OpenDuration));
        }
        foreach (var s in new IScenario[] { authcap, voids, refund }.Where(Ready))
        {
            await Measure("max", () => LoadModels.ClosedAsync(s, o.ClosedClients, o.ClosedDuration), s);
        }
        if (Ready(list))
        {
            await Measure("latency", () => LoadModels.OpenAsync(list, o.ListRate, o.OpenDuration), list);
            await Measure("max", () => LoadModels.ClosedAsync(list, Math.Max(2, o.ClosedClients / 2), o.ClosedDuration));
        }
        if (Ready(mix) && !result.Skipped.ContainsKey(list.Name))
        {
            var rate = Math.Max(o.RampStartRate, Math.Round(result.MaxPairsPerSecond / 2));
            await Measure("production-like", () => LoadModels.OpenAsync(mix, rate, o.OpenDuration), mix);
        }

        if (Ready(overload) && !result.Skipped.ContainsKey(victim.Name) && !result.Skipped.ContainsKey(flood.Name))
        {
            // The phase measures how fast refusals come back; a generator queued behind the gateway for a core would
            // measure its own wait. The phase runs last, so the priority changes no other phase's figures.
            if (o.GeneratorNice is null && GeneratorPriority.Raise(GeneratorPriority.OverloadNice, log) is { } priorityNote)
            {
                result.Notes.Add("overload: " + priorityNote);
            }
            if (result.MaxPairsPerSecond <= 0)
            {
                result.MaxPairsPerSecond = (await Measure("max", () => LoadModels.ClosedAsync(overload, o.ClosedClients, o.ClosedDuration), overload)).Throughput;
            }
            log.WriteLine("Overload…");
            result.Overload = await OverloadPhase.RunAsync(ctx, overload, victim, flood, result.MaxPairsPerSecond,
                (purpose, run) => Measure(purpose, run));
        }

        result.Sql = await SqlProfile.ReadAsync(gw.AdminConnectionString);
        log.WriteLine("Checking invariants in the database…");
        try
        {
            result.Invariants = await InvariantCheck.RunAsync(gw.AdminConnectionString, api.Acks.All);
        }
        catch (InvalidOperationException e)
        {
            result.Invariants = new InvariantReport(0, 0, 0, 0, ["cannot check: " + e.Message], "-");
        }
        log.WriteLine(result.Invariants.Holds
            ? $"  hold: {result.Invariants.Payments} payments, {result.Invariants.Captures} captures, {result.Invariants.Voids} voids, {result.Invariants.Refunds} refunds"
            : "  VIOLATED:\n    " + string.Join("\n    ", result.Invariants.Violations));

        await sampler.DisposeAsync();
        result.Resources = sampler.Series;
        ReportWriter.Write(result);
        log.WriteLine($"Report: {result.MarkdownPath}\n        {result.HtmlPath}");
        return result;
    }
}
