namespace Payments.BuildingBlocks.RateLimiting;

/// <summary>Settings under <c>RateLimits</c>: per-merchant request rates (see docs/adr/0040-rate-limits-and-admission.md).</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Requests per second of a merchant without a limit of its own, in live mode (Stripe's figure).</summary>
    public int LiveRps { get; set; } = 100;

    /// <summary>The same in sandbox mode.</summary>
    public int SandboxRps { get; set; } = 25;

    /// <summary>When set, the default for every merchant whatever the mode (test suites lift it for their merchants).</summary>
    public int? DefaultRps { get; set; }

    /// <summary>How long a merchant's limit is cached by a Host when no change notice reaches it (Redis down).</summary>
    public TimeSpan LimitCacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a Host waits for Redis before it limits locally at its share of the rate.</summary>
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>Settings under <c>Admission</c>: the concurrency limit in front of the routes that write.</summary>
public sealed class AdmissionOptions
{
    public const string Section = "Admission";

    // Defaults from the load suite's overload sweep on 2 cores (perf/RESULTS.md, 2026-12-04, ADR 40): 8 writes per core
    // at once keep the CPU for what is admitted. A burst waits for a place; once the gateway is refusing, a write waits
    // only a moment, because one that waits longer would mostly be refused in the end anyway, later.

    /// <summary>Writes served at once by this process; the rest wait in the queue. 0 turns admission control off.</summary>
    public int MaxConcurrent { get; set; } = 8 * Environment.ProcessorCount;

    /// <summary>Writes that may wait for a place; one more is refused at once.</summary>
    public int QueueLimit { get; set; } = 32 * Environment.ProcessorCount;

    /// <summary>
    /// The longest a write waits for a place before it is refused, while nothing was refused lately (a burst): long
    /// enough for a burst of 50 simultaneous writes to be served on a slow 2-core machine (50 authorizations took
    /// 190 ms there, and 100 ms shed a quarter of them); short enough that the onset of real overload, whose queue is
    /// served at this wait at most, keeps admitted latency within bounds (perf/RESULTS.md, 2026-12-05, fourth).
    /// </summary>
    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Writes that may wait for a place within <see cref="OverloadWindow"/> after a refusal (overload).</summary>
    public int OverloadQueueLimit { get; set; } = 4 * Environment.ProcessorCount;

    /// <summary>The longest a write waits for a place within <see cref="OverloadWindow"/> after a refusal (overload).</summary>
    public TimeSpan OverloadQueueTimeout { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>How long after a refusal the gateway counts as overloaded, so waits are short.</summary>
    public TimeSpan OverloadWindow { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>What a refusal's <c>Retry-After</c> says.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>A refusal's <c>detail</c>: the Host's writes retry with their key; the Vault's card post has none.</summary>
    public string RefusalDetail { get; set; } = "The gateway is at capacity; retry after the Retry-After delay with the same Idempotency-Key.";
}

/// <summary>A merchant's request rate: <paramref name="Rps"/> per second, bursts of up to <paramref name="Burst"/>.</summary>
public readonly record struct MerchantLimit(int Rps, int Burst);

/// <summary>Where the rate limiter reads each merchant's limit (the Auth module, which owns merchants).</summary>
public interface IMerchantLimits
{
    ValueTask<MerchantLimit> GetAsync(string merchantId, CancellationToken ct);
}
