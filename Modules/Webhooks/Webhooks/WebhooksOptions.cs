namespace Payments.Webhooks;

/// <summary>Settings under <c>Webhooks</c>.</summary>
internal sealed class WebhooksOptions
{
    public const string Section = "Webhooks";

    /// <summary>Base64 of 32 bytes: the AES-256-GCM key that seals endpoints' signing secrets at rest.</summary>
    public string? SecretKey { get; set; }

    /// <summary>How long one delivery attempt may take before it counts as failed.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The delay after the first failure; each further failure doubles it, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(6);

    /// <summary>An event still failing this long after its first attempt disables the endpoint (the issue: 3 days).</summary>
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromDays(3);

    /// <summary>How often the dispatcher looks for due deliveries (it is also woken after every recorded event).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// What a worker's hold on an endpoint outlives its attempt by; a Host that died mid-attempt blocks the endpoint
    /// for at most <see cref="AttemptTimeout"/> plus this.
    /// </summary>
    public TimeSpan LeaseMargin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Endpoints sent to at the same time by one Host process (each one stays one-at-a-time).</summary>
    public int MaxConcurrentEndpoints { get; set; } = 16;
}
