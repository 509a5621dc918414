using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using Payments.Vault.Audit;

namespace Payments.Vault.Features.CardEntry;

/// <summary>
/// PCI DSS 6.4.3 and 11.6.1 for the card-entry page. The inventory: every script the page loads, why, and its
/// Subresource Integrity hash (the page names it in <c>integrity</c>, so the browser refuses an altered file). Change
/// detection: the SHA-256 of the page as served (rendered for a fixed placeholder intent) and of its security headers,
/// recorded in the audit chain per release; the same release serving a different page or headers is an alert (log
/// and health), since only a release may change them. See docs/adr/0117-card-entry-page-integrity.md.
/// </summary>
internal sealed class CardEntryIntegrity
{
    public CardEntryIntegrity()
    {
        Scripts =
        [
            new InventoryItem("/assets/card-entry.js", "script", Sri(CardEntryPage.AssetBytes("card-entry.js")),
                "Validates the card fields as the cardholder types (Luhn, expiry, CVC); the form posts without it."),
        ];
        Styles = [new InventoryItem("/assets/card-entry.css", "style", Sri(CardEntryPage.AssetBytes("card-entry.css")), "Layout.")];
        Release = typeof(CardEntryIntegrity).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                  ?? typeof(CardEntryIntegrity).Assembly.GetName().Version?.ToString() ?? "unknown";
    }

    /// <summary>The page's scripts: the only ones its CSP lets run.</summary>
    public IReadOnlyList<InventoryItem> Scripts { get; }

    public IReadOnlyList<InventoryItem> Styles { get; }

    public string Release { get; }

    /// <summary>Null until checked; then whether this release serves what it served when first recorded.</summary>
    public bool? Unchanged { get; internal set; }

    public string IntegrityOf(string path) => Scripts.Concat(Styles).First(i => i.Path == path).Integrity;

    public static string Sri(byte[] content) => "sha384-" + Convert.ToBase64String(SHA384.HashData(content));

    /// <summary>SHA-256 (hex) of the page as served for a fixed placeholder intent, and of its security headers.</summary>
    public (string Page, string Headers) Fingerprint()
    {
        var page = CardEntryPage.Render(this, "Enter your card", CardEntryPage.FormBody(
            "tki_00000000000000000000000000", "tki_00000000000000000000000000_secret_0", new Dictionary<string, string[]>(), live: true));
        var headers = string.Join("\n", CardEntryPage.SecurityHeaders("https://vault.invalid").Select(h => h.Key + ": " + h.Value));
        return (Hex(page), Hex(headers));
    }

    private static string Hex(string s) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
}

internal sealed record InventoryItem(string Path, string Kind, string Integrity, string Justification);

/// <summary>At start: records this release's page and header hashes, or raises the alert when they differ.</summary>
internal sealed class CardEntryIntegrityCheck(CardEntryIntegrity integrity, NpgsqlDataSource db, AuditLog audit,
    ILogger<CardEntryIntegrityCheck> logger) : IHostedService
{
    public const string RecordedAction = "card_entry.page_recorded";
    public const string ChangedAction = "card_entry.page_changed";

    public Task StartAsync(CancellationToken cancellationToken) => RunAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task RunAsync(CancellationToken ct)
    {
        var (page, headers) = integrity.Fingerprint();
        await using var cmd = db.CreateCommand(
            "SELECT detail FROM vault.audit_log WHERE action = $1 AND subject = $2 ORDER BY seq DESC LIMIT 1");
        cmd.Parameters.Add(new() { Value = RecordedAction });
        cmd.Parameters.Add(new() { Value = integrity.Release });
        var recorded = await cmd.ExecuteScalarAsync(ct) as string;
        var detail = new Dictionary<string, object?> { ["page_sha256"] = page, ["headers_sha256"] = headers };
        if (recorded is null)
        {
            await audit.AppendAsync(RecordedAction, null, integrity.Release, detail);
            integrity.Unchanged = true;
            return;
        }
        using var doc = JsonDocument.Parse(recorded);
        var same = doc.RootElement.TryGetProperty("page_sha256", out var p) && p.GetString() == page &&
                   doc.RootElement.TryGetProperty("headers_sha256", out var h) && h.GetString() == headers;
        integrity.Unchanged = same;
        if (!same)
        {
            // Not a release (the version is the same): someone changed what cardholders get. 11.6.1 wants a person told.
            logger.LogCritical("ALERT: the card-entry page or its security headers changed within release {Release}; " +
                               "served page {Page}, headers {Headers} differ from the recorded ones", integrity.Release, page, headers);
            await audit.AppendAsync(ChangedAction, null, integrity.Release, detail);
        }
    }
}
