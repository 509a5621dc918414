using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Payments.Vault.Audit;
using Payments.Vault.Features.CardEntry;

namespace Payments.Vault.Tests;

/// <summary>PCI DSS 6.4.3 and 11.6.1 on the card-entry page: script inventory with SRI, CSP reports, change detection.</summary>
public sealed partial class CardEntryIntegrityTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    [GeneratedRegex("<script src=\"/assets/card-entry.js\" integrity=\"(sha384-[A-Za-z0-9+/=]+)\"")]
    private static partial Regex ScriptTag();

    [Fact]
    public async Task The_page_names_its_script_with_a_valid_integrity_hash_and_sends_its_security_headers()
    {
        var (intentId, secret) = await vault.RegisterIntentAsync(VaultFixture.NewMerchant());
        using var http = vault.Vault.CreateClient();

        using var page = await http.GetAsync($"/v1/tokenization-intents/{intentId}/card-entry?client_secret={Uri.EscapeDataString(secret)}");
        var html = await page.Content.ReadAsStringAsync();
        var script = await http.GetByteArrayAsync("/assets/card-entry.js");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var integrity = ScriptTag().Match(html);
        Assert.True(integrity.Success, "the script tag carries no integrity attribute");
        Assert.Equal("sha384-" + Convert.ToBase64String(SHA384.HashData(script)), integrity.Groups[1].Value);
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("require-trusted-types-for 'script'", csp, StringComparison.Ordinal);
        Assert.Contains("report-uri /csp-reports", csp, StringComparison.Ordinal);
        Assert.Contains("report-to csp", csp, StringComparison.Ordinal);
        Assert.Contains("/csp-reports", page.Headers.GetValues("Reporting-Endpoints").Single(), StringComparison.Ordinal);
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
    }

    [Fact]
    public async Task A_csp_report_is_audited_without_the_pages_query()
    {
        using var http = vault.Vault.CreateClient();
        var marker = "https://evil-" + Guid.NewGuid().ToString("N")[..8] + ".example";
        var report = $$$"""{"csp-report":{"document-uri":"https://vault.example/v1/tokenization-intents/tki_1/card-entry?client_secret=tki_1_secret_abc","violated-directive":"script-src-elem","effective-directive":"script-src-elem","blocked-uri":"{{{marker}}}/skim.js?x=1","disposition":"enforce"}}""";

        using var answer = await http.PostAsync("/csp-reports", new StringContent(report, Encoding.UTF8, "application/csp-report"));

        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        var detail = await vault.ScalarAsync<string>(
            "SELECT detail FROM vault.audit_log WHERE action = 'card_entry.csp_violation' AND detail::jsonb ->> 'blocked' = $1", marker);
        Assert.NotNull(detail);
        Assert.Contains("\"script-src-elem\"", detail, StringComparison.Ordinal);
        Assert.Contains("/v1/tokenization-intents/tki_1/card-entry", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_release_serving_another_page_is_an_alert_in_health()
    {
        var services = vault.Vault.Services;
        var integrity = services.GetRequiredService<CardEntryIntegrity>();
        using var http = vault.Vault.CreateClient();
        using (var before = JsonDocument.Parse(await http.GetStringAsync("/health/live")))
        {
            Assert.Equal("unchanged", before.RootElement.GetProperty("card_entry_page").GetString());
        }

        // What this release recorded differs from what it serves now (as if the page had been altered on disk).
        await services.GetRequiredService<AuditLog>().AppendAsync(CardEntryIntegrityCheck.RecordedAction, null, integrity.Release,
            new Dictionary<string, object?> { ["page_sha256"] = new string('0', 64), ["headers_sha256"] = new string('0', 64) });
        await ActivatorUtilities.CreateInstance<CardEntryIntegrityCheck>(services).RunAsync(CancellationToken.None);

        using var after = JsonDocument.Parse(await http.GetStringAsync("/health/live"));
        Assert.Equal("changed", after.RootElement.GetProperty("card_entry_page").GetString());
        Assert.Equal(1L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.audit_log WHERE action = $1 AND subject = $2", CardEntryIntegrityCheck.ChangedAction, integrity.Release));
        // Put back what this release serves, for the other tests of the class.
        var (pageHash, headersHash) = integrity.Fingerprint();
        await services.GetRequiredService<AuditLog>().AppendAsync(CardEntryIntegrityCheck.RecordedAction, null, integrity.Release,
            new Dictionary<string, object?> { ["page_sha256"] = pageHash, ["headers_sha256"] = headersHash });
        await ActivatorUtilities.CreateInstance<CardEntryIntegrityCheck>(services).RunAsync(CancellationToken.None);
    }
}
