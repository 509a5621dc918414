namespace Payments.Vault.Audit;

/// <summary>Settings of the audit chain (section <c>Vault:Audit</c>, docs/adr/0121 and 0124).</summary>
internal sealed class AuditOptions
{
    /// <summary>An anchor at least this often while rows are added.</summary>
    public TimeSpan AnchorInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>An anchor at least every this many rows.</summary>
    public int AnchorEveryRows { get; set; } = 1000;

    /// <summary>
    /// The append-only anchor file. Default: <c>audit-anchors-DATABASE.jsonl</c> in <see cref="AnchorDirectory"/>, else
    /// in the Vault's home directory (run.sh gives the Vault <c>.data/home/vault</c>, under the data directory).
    /// </summary>
    public string? AnchorFile { get; set; }

    public string? AnchorDirectory { get; set; }

    /// <summary>How often the serving Vault verifies the rows added since its last check.</summary>
    public TimeSpan VerifyInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long audit rows are kept at least (PCI DSS 10.5.1: 12 months); refused below 365 days.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(395);

    public static readonly TimeSpan MinimumRetention = TimeSpan.FromDays(365);

    public string AnchorPath() => AnchorFile ?? throw new InvalidOperationException("Vault:Audit:AnchorFile is not resolved.");

    /// <summary>The default file: named after the database, so two Vault databases never share an anchor file.</summary>
    public static string DefaultAnchorFile(string? directory, string? database) =>
        Path.Combine(string.IsNullOrEmpty(directory) ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) : directory,
            $"audit-anchors-{(string.IsNullOrEmpty(database) ? "vault" : database)}.jsonl");
}
