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
            if (m.Type == "error")
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
}
