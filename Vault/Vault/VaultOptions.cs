namespace Payments.Vault;

/// <summary>The Vault's settings (section <c>Vault</c>).</summary>
internal sealed class VaultOptions
{
    /// <summary>Base64 of the 32-byte key the Host signs its calls with.</summary>
    public string ServiceKey { get; set; } = "";

    /// <summary>
    /// The service key being rotated out: calls signed with it are still accepted until
    /// <see cref="PreviousServiceKeyUntil"/>, so the Host can move to <see cref="ServiceKey"/> without downtime.
    /// </summary>
    public string? PreviousServiceKey { get; set; }

    public DateTimeOffset? PreviousServiceKeyUntil { get; set; }

    /// <summary>The acquirer this Vault sends card uses to. Live mode requires it named; only <c>Sandbox</c> exists.</summary>
    public string? Acquirer { get; set; }

    /// <summary>The origin the cardholder's browser reaches the Vault at (card-entry pages).</summary>
    public string? PublicUrl { get; set; }

    public KekOptions Kek { get; set; } = new();

    /// <summary>How long a CVC is held in memory at most, whether or not it was used.</summary>
    public TimeSpan CvcLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a signed Host call stays valid; the replay cache keeps its id that long.</summary>
    public TimeSpan ServiceTokenLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Lifetime of a Data Protection key before a new one is made on schedule.</summary>
    public TimeSpan KeyLifetime { get; set; } = TimeSpan.FromDays(90);

    /// <summary>
    /// How long a keyed card use's answer is given again to a retry: the Host's Idempotency-Key retention (the
    /// authorization window plus one day).
    /// </summary>
    public TimeSpan AttemptKeyRetention { get; set; } = TimeSpan.FromDays(8);

    public RateLimitOptions RateLimits { get; set; } = new();

    public Commands.DualControlOptions DualControl { get; set; } = new();

    public Cards.RetentionOptions Retention { get; set; } = new();

    public Acquirer.ApprovalOptions Approvals { get; set; } = new();
}

internal sealed class KekOptions
{
    /// <summary>Base64 components of 32 bytes each; the KEK is their XOR. At least two are required. Tests and development.</summary>
    public List<string> Components { get; set; } = [];

    /// <summary>
    /// One file per custodian, each holding one base64 component and readable only by the Vault's OS user: no single
    /// file holds the KEK, and a supervised restart needs nobody at a keyboard (docs/adr/0125).
    /// </summary>
    public List<string> ComponentFiles { get; set; } = [];

    /// <summary>Set by run.sh when it generated every component itself (development): the Vault says so in its log.</summary>
    public bool DevelopmentDefault { get; set; }
}

internal sealed class RateLimitOptions
{
    public int SubmissionsPerMinute { get; set; } = 600;
    public int CardUsesPerMinute { get; set; } = 60_000;

    /// <summary>Failed card-entry posts (wrong client secret, refused card data) per intent, per minute.</summary>
    public int FailedCardEntriesPerIntentPerMinute { get; set; } = 10;

    /// <summary>Failed card-entry posts per source address, per minute (any intent).</summary>
    public int FailedCardEntriesPerAddressPerMinute { get; set; } = 30;
}
