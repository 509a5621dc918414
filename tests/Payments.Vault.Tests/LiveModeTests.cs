using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;
using Payments.TestKit;

namespace Payments.Vault.Tests;

/// <summary>
/// Live mode means it: the Vault and the Host refuse to start with published, one-byte or shared secrets, plain HTTP
/// off loopback, or (the Vault) an acquirer nobody named; each refusal says which setting is wrong.
/// </summary>
public sealed class LiveModeTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    private static string Key() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>A live configuration that passes every check; each test breaks one thing.</summary>
    private Dictionary<string, string?> LiveVault(params (string Key, string? Value)[] changes)
    {
        var settings = new Dictionary<string, string?>(vault.VaultSettings)
        {
            ["Gateway:Mode"] = "Live",
            ["Vault:Acquirer"] = "Sandbox",
            ["Vault:PublicUrl"] = "https://vault.example",
        };
        foreach (var (k, v) in changes)
        {
            settings[k] = v;
        }
        return settings;
    }

    private static async Task<string> RefusalAsync(Dictionary<string, string?> settings)
    {
        await using var factory = new VaultFactory(settings);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => Task.FromResult(factory.Server));
        return e.ToString();
    }

    [Theory]
    [InlineData("Vault:Kek:Components:0", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "one byte repeated")]
    [InlineData("Vault:Kek:Components:1", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "one byte repeated")]
    [InlineData("Vault:ServiceKey", "ZGV2LW9ubHktc2VydmljZS1rZXktMzItYnl0ZXMhISE=", "published default")]
    [InlineData("Vault:PublicUrl", "http://vault.example", "Vault:PublicUrl is plain http://")]
    [InlineData("Vault:Acquirer", null, "Vault:Acquirer is not set")]
    public async Task The_vault_refuses_to_start_live_with(string key, string? value, string expected)
    {
        var message = await RefusalAsync(LiveVault((key, value)));

        Assert.Contains("refuses to start in live mode", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        Assert.Contains(key, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_vault_refuses_to_start_live_with_a_published_kek_component_in_a_custodian_file()
    {
        var path = Path.Combine(Path.GetTempPath(), "kek-live-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
        try
        {
            var settings = LiveVault(("Vault:Kek:ComponentFiles:0", path));
            settings.Remove("Vault:Kek:Components:0");
            settings.Remove("Vault:Kek:Components:1");

            var message = await RefusalAsync(settings);

            Assert.Contains("Vault:Kek:ComponentFiles:0", message, StringComparison.Ordinal);
            Assert.Contains("one byte repeated", message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task The_vault_refuses_equal_secrets_compared_as_bytes()
    {
        var shared = RandomNumberGenerator.GetBytes(32);
        // Two spellings of one key (here: surrounding spaces) are one key: compared as decoded bytes, not as text.
        var message = await RefusalAsync(LiveVault(
            ("Vault:ServiceKey", Convert.ToBase64String(shared)), ("Vault:Kek:Components:1", " " + Convert.ToBase64String(shared) + " ")));

        Assert.Contains("Vault:Kek:Components:1 equals Vault:ServiceKey", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_live_vault_with_good_settings_starts_names_its_acquirer_and_shows_no_test_card()
    {
        await using var factory = new VaultFactory(LiveVault());
        using var http = factory.CreateClient();

        using var health = JsonDocument.Parse(await http.GetStringAsync("/health/live"));
        Assert.Equal("Sandbox", health.RootElement.GetProperty("acquirer").GetString());
        var merchant = VaultFixture.NewMerchant();
        var (intentId, secret) = await vault.RegisterIntentAsync(merchant);
        var page = await http.GetStringAsync($"/v1/tokenization-intents/{intentId}/card-entry?client_secret={Uri.EscapeDataString(secret)}");
        Assert.Contains("Card number", page, StringComparison.Ordinal);
        Assert.DoesNotContain("4242", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Vault:ServiceKey", "ZGV2LW9ubHktc2VydmljZS1rZXktMzItYnl0ZXMhISE=", "published default")]
    [InlineData("Vault:BaseUrl", "http://vault.internal:5091/", "Vault:BaseUrl is plain http://")]
    [InlineData("Auth:KeyEncryptionKey", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "one byte repeated")]
    public async Task The_host_refuses_to_start_live_with(string key, string value, string expected)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Payments"] = vault.HostConnectionString,
            ["ConnectionStrings:Redis"] = vault.Redis.ConnectionString,
            ["Vault:BaseUrl"] = "https://vault.internal:5091/",
            ["Vault:ServiceKey"] = Key(),
            ["Auth:KeyEncryptionKey"] = Key(),
            ["Webhooks:SecretKey"] = Key(),
            ["Idempotency:SecretKey"] = Key(),
            ["Gateway:Mode"] = "Live",
            [key] = value,
        };
        await using var host = new HostFactory(settings, vault.Vault);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => Task.FromResult(host.Server));

        Assert.Contains("The Host refuses to start in live mode", e.ToString(), StringComparison.Ordinal);
        Assert.Contains(expected, e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sandbox_vault_names_its_acquirer_in_health()
    {
        using var http = vault.Vault.CreateClient();
        using var response = await http.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Sandbox", health.RootElement.GetProperty("acquirer").GetString());
    }

    [Theory]
    [InlineData("https", "10.0.0.5", true)]
    [InlineData("https", "127.0.0.1", false)]
    [InlineData("http", "10.0.0.5", false)]
    public async Task Hsts_is_sent_over_https_off_loopback_only(string scheme, string localAddress, bool expected)
    {
        var app = new ApplicationBuilder(new ServiceCollection().BuildServiceProvider());
        app.UseHstsOffLoopback();
        app.Run(_ => Task.CompletedTask);
        var context = new DefaultHttpContext();
        context.Request.Scheme = scheme;
        context.Connection.LocalIpAddress = IPAddress.Parse(localAddress);

        await app.Build()(context);

        Assert.Equal(expected ? "max-age=31536000; includeSubDomains" : "", context.Response.Headers.StrictTransportSecurity.ToString());
    }
}
