using System.Globalization;

namespace Payments.Perf;

/// <summary>How big and how long a run is. <see cref="Full"/> is the release run; <see cref="SmokeRun"/> the CI check.</summary>
internal sealed record PerfOptions
{
    public bool Smoke { get; init; }

    public string OutputDirectory { get; init; } = Path.Combine("perf", "reports", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

    /// <summary>Scenario names to run (empty: all).</summary>
    public IReadOnlySet<string> Only { get; init; } = new HashSet<string>();

    public int HostCount { get; init; } = 1;

    public int MerchantsPerScenario { get; init; } = 4;

    public int CardsPerMerchant { get; init; } = 3;

    /// <summary>Transactions the list merchant makes through the API (templates for the seeder).</summary>
    public int ListApiRows { get; init; } = 30;

    /// <summary>Rows bulk-inserted for the list merchant (the figure is for a million).</summary>
    public long ListSeedRows { get; init; } = 1_000_000;

    public TimeSpan ReferenceDuration { get; init; } = TimeSpan.FromSeconds(15);

    public int PgbenchClients { get; init; } = 8;

    public int PlaintextClients { get; init; } = 64;

    public TimeSpan ClosedDuration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Unrecorded load before a scenario's first measured phase (JIT tiering, pools, prepared statements).</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(20);

    public int ClosedClients { get; init; } = 16;

    public TimeSpan OpenDuration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// A fixed rate for the pair's open phase instead of half the measured maximum: comparisons of CPU per pair
    /// (telemetry on and off) then offer both sides the same load, whatever each run's maximum came out as.
    /// </summary>
    public double? OpenRate { get; init; }

    /// <summary>
    /// The Host's admission limits for this run (<c>--admission MAX[:QUEUE[:WAIT_MS[:OVERLOAD_WAIT_MS]]]</c>), to size them from a sweep; the
    /// product's defaults otherwise.
    /// </summary>
    public Payments.BuildingBlocks.RateLimiting.AdmissionOptions Admission { get; init; } = new();

    /// <summary>
    /// A nice value for the load generator's threads for the whole run (<c>--generator-nice -10</c>); null: only the
    /// overload phase raises it (to <see cref="Measure.GeneratorPriority.OverloadNice"/>); 0: never.
    /// </summary>
    public int? GeneratorNice { get; init; }

    /// <summary>
    /// Extra environment for the Host and Vault processes only (<c>--server-env NAME=VALUE</c>, repeatable): runtime
    /// settings such as <c>DOTNET_gcConcurrent</c> measured without changing the load generator's own runtime.
    /// </summary>
    public IReadOnlyDictionary<string, string> ServerEnvironment { get; init; } = new Dictionary<string, string>();

    public double RampStartRate { get; init; } = 100;

    public double RampFactor { get; init; } = 1.25;

    public TimeSpan RampStepDuration { get; init; } = TimeSpan.FromSeconds(5);

    public int RampMaxSteps { get; init; } = 16;

    /// <summary>The latency bound of the ramp and of the half-max check (the pair p99 target).</summary>
    public double P99BoundMs { get; init; } = 25;

    /// <summary>The open-model rate for the list route's latency.</summary>
    public double ListRate { get; init; } = 50;

    /// <summary>Every POST carries an Idempotency-Key, as merchants send them; false measures without (a diagnostic).</summary>
    public bool IdempotencyKeys { get; init; } = true;

    /// <summary>Each overload phase (baseline, twice the max, each flood run's halves).</summary>
    public TimeSpan OverloadDuration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Half the max again after the overload; latency must be back to normal 5 s in.</summary>
    public TimeSpan RecoveryDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Flood runs, alternating the victim alone and with the flood (the median ratio is reported).</summary>
    public int FloodRuns { get; init; } = 3;
    /// <summary>False runs the gateway with <c>Telemetry__Enabled=false</c> (no spans, no meters): the cost comparison.</summary>
    public bool Telemetry { get; init; } = true;

    public static PerfOptions Full => new();

    /// <summary>About ten seconds of load: every scenario and model once, tiny, to prove the suite and the invariants.</summary>
    public static PerfOptions SmokeRun(string output) => new()
    {
        Smoke = true,
        OutputDirectory = output,
        MerchantsPerScenario = 1,
        CardsPerMerchant = 1,
        ListApiRows = 9,
        ListSeedRows = 3_000,
        ReferenceDuration = TimeSpan.FromSeconds(1),
        PgbenchClients = 2,
        PlaintextClients = 4,
        ClosedDuration = TimeSpan.FromSeconds(1),
        WarmUp = TimeSpan.FromSeconds(0.5),
        ClosedClients = 2,
        OpenDuration = TimeSpan.FromSeconds(1),
        RampStartRate = 10,
        RampFactor = 2,
        RampStepDuration = TimeSpan.FromSeconds(1),
        RampMaxSteps = 2,
        OverloadDuration = TimeSpan.FromSeconds(1),
        RecoveryDuration = TimeSpan.FromSeconds(1),
        FloodRuns = 1,
        ListRate = 10,
        // A burst waits up to a second for a place instead of 100 ms: phases of a second on a busy 2-core machine,
        // right after start, can stall the gateway that long, and the smoke fails on any 5xx its trickle of load gets
        // (a fresh clone's test run once got 503s in the pair phase). Shedding itself is measured by full runs.
        Admission = new() { QueueTimeout = TimeSpan.FromSeconds(1) },
    };

    public static PerfOptions Parse(string[] args)
    {
        var o = args.Contains("--smoke") ? SmokeRun(Path.Combine("perf", "reports", "smoke")) : Full;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            double Num() => double.Parse(Next(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--smoke" => o,
                "--no-idempotency-keys" => o with { IdempotencyKeys = false },
                "--telemetry" => o with { Telemetry = Next() != "off" },
                "--out" => o with { OutputDirectory = Next() },
                "--only" => o with { Only = Next().Split(',').ToHashSet() },
                "--hosts" => o with { HostCount = (int)Num() },
                "--duration" => WithDuration(o, TimeSpan.FromSeconds(Num())),
                "--clients" => o with { ClosedClients = (int)Num() },
                "--warm-up" => o with { WarmUp = TimeSpan.FromSeconds(Num()) },
                "--list-rows" => o with { ListSeedRows = (long)Num() },
                "--reference-seconds" => o with { ReferenceDuration = TimeSpan.FromSeconds(Num()) },
                "--ramp-start" => o with { RampStartRate = Num() },
                "--open-rate" => o with { OpenRate = Num() },
                "--admission" => o with { Admission = ParseAdmission(Next()) },
                "--ramp-steps" => o with { RampMaxSteps = (int)Num() },
                "--merchants" => o with { MerchantsPerScenario = (int)Num() },
                "--generator-nice" => o with { GeneratorNice = (int)Num() },
                "--server-env" => o with { ServerEnvironment = WithEntry(o.ServerEnvironment, Next()) },
                _ => throw new ArgumentException($"Unknown option {args[i]}. Options: --smoke --out DIR --only pair,list --hosts N --duration S " +
                                                 "--clients N --warm-up S --no-idempotency-keys --telemetry on|off --list-rows N --reference-seconds S --ramp-start R --ramp-steps N --open-rate R --admission MAX[:QUEUE[:WAIT_MS[:OVERLOAD_WAIT_MS]]] --merchants N --generator-nice N --server-env NAME=VALUE"),
            };
        }
        return o;
    }

    private static Dictionary<string, string> WithEntry(IReadOnlyDictionary<string, string> entries, string entry)
    {
        var at = entry.IndexOf('=', StringComparison.Ordinal);
        if (at <= 0)
        {
            throw new ArgumentException($"--server-env needs NAME=VALUE, not {entry}");
        }
        return new Dictionary<string, string>(entries) { [entry[..at]] = entry[(at + 1)..] };
    }

    private static Payments.BuildingBlocks.RateLimiting.AdmissionOptions ParseAdmission(string value)
    {
        var parts = value.Split(':');
        var max = int.Parse(parts[0], CultureInfo.InvariantCulture);
        var defaults = new Payments.BuildingBlocks.RateLimiting.AdmissionOptions();
        return new()
        {
            MaxConcurrent = max,
            QueueLimit = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : max,
            QueueTimeout = parts.Length > 2 ? TimeSpan.FromMilliseconds(int.Parse(parts[2], CultureInfo.InvariantCulture)) : defaults.QueueTimeout,
            OverloadQueueTimeout = parts.Length > 3
                ? TimeSpan.FromMilliseconds(int.Parse(parts[3], CultureInfo.InvariantCulture)) : defaults.OverloadQueueTimeout,
        };
    }

    private static PerfOptions WithDuration(PerfOptions o, TimeSpan d) => o with { ClosedDuration = d, OpenDuration = d };

    public bool Runs(string scenario) => Only.Count == 0 || Only.Contains(scenario);
}
