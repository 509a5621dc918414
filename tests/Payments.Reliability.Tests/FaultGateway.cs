using System.Net.Http.Json;
using System.Text.Json;
using Payments.TestKit;

namespace Payments.Reliability.Tests;

/// <summary>
/// The gateway as real processes for the fault suite: two Hosts, one Vault, a private PostgreSQL and Redis
/// (theirs to stop), one merchant with a bearer token and a few tokenized cards.
/// </summary>
public sealed class FaultGateway : IAsyncLifetime
{
    public const string ApprovedPan = "4242424242424242";
    public const string OtherPan = "5555555555554444";
    public const string DeclinedPan = "4000000000000002";
    // With a leading zero: amounts (random, 1 to 10,000 minor units here) never print as one, so the leak scan's
    // search for the CVC cannot mistake an amount for it (6183 once did).
    public const string Cvc = "0618";

    internal GatewayProcesses Processes { get; private set; } = null!;
    internal string AccessToken { get; private set; } = "";
    internal string[] ApprovedCards { get; private set; } = [];
    internal string DeclinedCard { get; private set; } = "";
    internal bool HasRefunds { get; private set; }

    public async Task InitializeAsync()
    {
        Processes = await GatewayProcesses.StartAsync(new GatewayProcessOptions
        {
            HostCount = 2,
            // Durability is not what these scenarios test (PostgreSQL is restarted cleanly, never power-cut).
            Durable = false,
            ReadyTimeout = TimeSpan.FromSeconds(120),
        });
        var created = await Processes.RunHostCommandAsync("merchant", "create", "--name", "Fault suite");
        using var json = JsonDocument.Parse(created.Trim().Split('\n').Last());
        var clientId = json.RootElement.GetProperty("client_id").GetString()!;
        var secret = json.RootElement.GetProperty("client_secret").GetString()!;

        using var http = new HttpClient { BaseAddress = Processes.HostUrl, Timeout = TimeSpan.FromSeconds(30) };
        var tokenAnswer = await http.PostAsJsonAsync("/v1/auth/token", new Dictionary<string, string> { ["client_id"] = clientId, ["client_secret"] = secret });
        tokenAnswer.EnsureSuccessStatusCode();
        AccessToken = JsonDocument.Parse(await tokenAnswer.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString()!;
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AccessToken);

        ApprovedCards = [await TokenizeAsync(http, ApprovedPan), await TokenizeAsync(http, OtherPan)];
        DeclinedCard = await TokenizeAsync(http, DeclinedPan);
        var openApi = await http.GetStringAsync("/openapi/v1.json");
        HasRefunds = openApi.Contains("/v1/transactions/{trx_id}/refunds", StringComparison.Ordinal);
    }

    private async Task<string> TokenizeAsync(HttpClient host, string pan)
    {
        var intentAnswer = await host.PostAsJsonAsync("/v1/tokenization-intents", new { });
        var intentBody = await intentAnswer.Content.ReadAsStringAsync();
        if (!intentAnswer.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/tokenization-intents answered {(int)intentAnswer.StatusCode}: {intentBody}");
        }
        var intent = JsonDocument.Parse(intentBody).RootElement;
        var id = intent.GetProperty("id").GetString()!;
        using var vault = new HttpClient { BaseAddress = Processes.VaultUrl, Timeout = TimeSpan.FromSeconds(30) };
        var card = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{id}/card", new Dictionary<string, object>
        {
            ["client_secret"] = intent.GetProperty("client_secret").GetString()!,
            ["number"] = pan,
            ["exp_month"] = 12,
            ["exp_year"] = DateTime.UtcNow.Year + 3,
            ["cvc"] = Cvc,
            ["holder_name"] = "Fault Suite",
        });
        if (!card.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The Vault's card route answered {(int)card.StatusCode}: {await card.Content.ReadAsStringAsync()}");
        }
        return JsonDocument.Parse(await card.Content.ReadAsStringAsync()).RootElement.GetProperty("card_token").GetString()!;
    }

    public async Task DisposeAsync()
    {
        if (Processes is not null)
        {
            await Processes.DisposeAsync();
        }
    }
}
