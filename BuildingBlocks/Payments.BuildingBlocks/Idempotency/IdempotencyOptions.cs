namespace Payments.BuildingBlocks.Idempotency;

/// <summary>Settings under <c>Idempotency</c>.</summary>
public sealed class IdempotencyOptions
{
    public const string Section = "Idempotency";

    /// <summary>
    /// How long a key is kept: the authorization window plus one day (the contract). Derived from
    /// <c>Transactions:AuthorizationWindow</c> unless set.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(8);

    /// <summary>How long a claim protects a running request before another may take the key over.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Base64 of 32 bytes: seals the answers that show a secret once, for their replays (<see cref="AnswerSeal"/>).
    /// Required in live mode; a sandbox without it uses a public development key.
    /// </summary>
    public string? SecretKey { get; set; }
}
