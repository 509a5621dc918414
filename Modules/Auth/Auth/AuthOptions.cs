namespace Payments.Auth;

/// <summary>Settings under <c>Auth</c>. See docs/adr/0010-auth-tokens-and-keys.md.</summary>
internal sealed class AuthOptions
{
    public const string Section = "Auth";

    public string Issuer { get; set; } = "https://payments.example/";
    public string Audience { get; set; } = "payments-api";
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(15);
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Base64 of 32 bytes: encrypts the signing keys' private halves at rest. Required in Live mode.</summary>
    public string? KeyEncryptionKey { get; set; }

    /// <summary>PBKDF2-SHA256 iterations for new client secrets (OWASP 2023: 600 000).</summary>
    public int SecretHashIterations { get; set; } = 600_000;

    /// <summary>How long the old secret stays valid after <c>merchant rotate-secret</c>.</summary>
    public TimeSpan SecretRotationGracePeriod { get; set; } = TimeSpan.FromHours(24);

    public int MaxFailuresPerClient { get; set; } = 10;
    public int MaxFailuresPerIp { get; set; } = 100;
    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How often each Host asks PostgreSQL for revocations made elsewhere: how late one arrives when Redis pub/sub
    /// lost it. The contract allows one second (docs/adr/0013).
    /// </summary>
    public TimeSpan RevocationPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Unexpired revocations held in memory; past it, checks go to PostgreSQL until they fit again.</summary>
    public int MaxRevocationsInMemory { get; set; } = 100_000;

    /// <summary>Verified tokens held in memory, each until it expires.</summary>
    public int VerifiedTokenCacheSize { get; set; } = 50_000;
}
