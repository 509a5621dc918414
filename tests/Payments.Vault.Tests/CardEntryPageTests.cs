using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Payments.TestKit;

namespace Payments.Vault.Tests;

/// <summary>The Host and the Vault on real loopback ports, and one headless Chromium (Debian's) for the class.</summary>
public sealed class BrowserFixture : VaultFixture, IAsyncLifetime
{
    private IPlaywright? playwright;

    protected override bool UseKestrel => true;

    public IBrowser Browser { get; private set; } = null!;

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        ConsoleWriters.Settle();
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public override async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        playwright?.Dispose();
        await base.DisposeAsync();
    }
}

public sealed class CardEntryPageTests(BrowserFixture gateway) : IClassFixture<BrowserFixture>, IAsyncLifetime
{
    private readonly List<string> consoleErrors = [];
    private IBrowserContext context = null!;

    public async Task InitializeAsync() => context = await gateway.Browser.NewContextAsync();

    public async Task DisposeAsync() => await context.CloseAsync();

    private async Task<(MerchantClient Merchant, string IntentId, string CardEntryUrl)> CreateIntentAsync()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        using var created = await merchant.Http.PostAsJsonAsync("/v1/tokenization-intents", new { return_url = "https://shop.example/done" });
        created.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        return (merchant, json.RootElement.GetProperty("id").GetString()!, json.RootElement.GetProperty("card_entry_url").GetString()!);
    }

    private async Task<IPage> OpenAsync(string url)
    {
        var page = await context.NewPageAsync();
        page.Console += (_, m) =>
        {
            // Script errors and CSP violations; a missing favicon is not the page's fault.
            if (m.Type == "error" && !m.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                consoleErrors.Add(m.Text);
            }
        };
        var response = await page.GotoAsync(url);
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Contains("script-src 'self'", await response.HeaderValueAsync("content-security-policy") ?? "", StringComparison.Ordinal);
        return page;
    }

    [Fact]
    public async Task Typing_a_valid_card_and_submitting_makes_the_intent_succeed()
    {
        var (merchant, intentId, url) = await CreateIntentAsync();
        var page = await OpenAsync(url);

        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await Assertions.Expect(page.Locator("#brand")).ToHaveTextAsync("Card type: Visa");
        await page.GetByLabel("Month (MM)").FillAsync("12");
        await page.GetByLabel("Year (YYYY)").FillAsync((DateTime.UtcNow.Year + 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByLabel("Security code (CVC)").FillAsync("123");
        await page.GetByLabel("Name on card (optional)").FillAsync("Ada Lovelace");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save card" }).ClickAsync();

        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Your card is saved.");
        await Assertions.Expect(page.Locator("#outcome")).ToContainTextAsync("Visa ending in 4242");
        var back = await page.Locator("#return").GetAttributeAsync("href");
        Assert.StartsWith($"https://shop.example/done?tokenization_intent={intentId}&status=SUCCEEDED", back, StringComparison.Ordinal);

        using var shown = await merchant.Http.GetAsync($"/v1/tokenization-intents/{intentId}");
        using var json = JsonDocument.Parse(await shown.Content.ReadAsStringAsync());
        Assert.Equal("SUCCEEDED", json.RootElement.GetProperty("status").GetString());
        Assert.Equal("4242", json.RootElement.GetProperty("card").GetProperty("last4").GetString());
        Assert.Empty(consoleErrors); // no CSP violation, no script error
    }

    [Fact]
    public async Task Typing_an_invalid_card_shows_the_error_without_submitting()
    {
        var (merchant, intentId, url) = await CreateIntentAsync();
        var page = await OpenAsync(url);
        var posts = 0;
        page.Request += (_, r) =>
        {
            if (r.Method == "POST")
            {
                posts++;
            }
        };

        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4241");
        await page.GetByLabel("Card number").BlurAsync();
        await Assertions.Expect(page.Locator("#f-number-error")).ToHaveTextAsync("The card number is not valid.");
        await Assertions.Expect(page.GetByLabel("Card number")).ToHaveAttributeAsync("aria-invalid", "true");
        await page.GetByLabel("Month (MM)").FillAsync("13");
        await page.GetByLabel("Year (YYYY)").FillAsync("2030");
        await page.GetByLabel("Security code (CVC)").FillAsync("12");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save card" }).ClickAsync();

        await Assertions.Expect(page.Locator("#error-summary")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#error-summary")).ToContainTextAsync("The expiry month must be 1 to 12.");
        await Assertions.Expect(page.Locator("#error-summary")).ToContainTextAsync("The CVC must be 3 or 4 digits.");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Enter your card");
        Assert.Equal(0, posts);

        using var shown = await merchant.Http.GetAsync($"/v1/tokenization-intents/{intentId}");
        Assert.Contains("\"REQUIRES_CARD\"", await shown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(consoleErrors);
    }

    [Fact]
    public async Task The_browser_gets_the_security_headers_and_runs_the_script_under_its_integrity_hash_without_a_csp_violation()
    {
        var (_, _, url) = await CreateIntentAsync();
        var page = await context.NewPageAsync();
        var reports = 0;
        page.Request += (_, r) =>
        {
            if (r.Url.Contains("/csp-reports", StringComparison.Ordinal))
            {
                reports++;
            }
        };
        page.Console += (_, m) =>
        {
            if (m.Type == "error" && !m.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                consoleErrors.Add(m.Text);
            }
        };

        var response = await page.GotoAsync(url);
        var headers = await response!.AllHeadersAsync();
        Assert.Contains("require-trusted-types-for 'script'", headers["content-security-policy"], StringComparison.Ordinal);
        Assert.Contains("report-uri /csp-reports", headers["content-security-policy"], StringComparison.Ordinal);
        Assert.Equal("no-referrer", headers["referrer-policy"]);
        Assert.StartsWith("sha384-", await page.Locator("script[src='/assets/card-entry.js']").GetAttributeAsync("integrity") ?? "", StringComparison.Ordinal);
        Assert.StartsWith("sha384-", await page.Locator("link[href='/assets/card-entry.css']").GetAttributeAsync("integrity") ?? "", StringComparison.Ordinal);

        // The script ran (its hash matched): it names the brand as the number is typed.
        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await Assertions.Expect(page.Locator("#brand")).ToHaveTextAsync("Card type: Visa");
        await page.GetByLabel("Month (MM)").FillAsync("12");
        await page.GetByLabel("Year (YYYY)").FillAsync((DateTime.UtcNow.Year + 2).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.GetByLabel("Security code (CVC)").FillAsync("123");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save card" }).ClickAsync();
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Your card is saved.");

        Assert.Empty(consoleErrors); // no CSP or Trusted Types violation, no integrity failure
        Assert.Equal(0, reports);
    }

    [Fact]
    public async Task A_script_altered_on_the_way_is_refused_by_its_integrity_hash()
    {
        var (_, _, url) = await CreateIntentAsync();
        var page = await context.NewPageAsync();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                consoleErrors.Add(m.Text);
            }
        };
        // A skimmer appended to the script between the Vault and the browser (a compromised CDN or proxy).
        await page.RouteAsync("**/assets/card-entry.js", async route =>
        {
            var original = await route.FetchAsync();
            await route.FulfillAsync(new() { Response = original, Body = await original.TextAsync() + "\n// skimmer\n" });
        });

        await page.GotoAsync(url);
        await page.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await page.GetByLabel("Card number").BlurAsync();

        Assert.Contains(consoleErrors, e => e.Contains("integrity", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("", await page.Locator("#brand").TextContentAsync()); // the altered script never ran
    }
}
