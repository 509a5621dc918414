using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Payments.TestKit;

/// <summary>Card tokens for tests, made the way a merchant makes them: an intent at the Host, the card posted to the Vault.</summary>
public static class Cards
{
    /// <summary>
    /// Creates a tokenization intent with <paramref name="merchant"/>'s token and posts the card as JSON to the Vault
    /// (as a PCI-scoped merchant server would); returns the <c>tok_…</c>.
    /// </summary>
    public static async Task<string> TokenizeCardAsync(this GatewayFixture gateway, MerchantClient merchant,
        string number = "4242424242424242", string cvc = "123", int expMonth = 12, int? expYear = null)
    {
        var (intentId, clientSecret) = await gateway.CreateTokenizationIntentAsync(merchant);
        using var vault = gateway.Vault.CreateClient();
        using var stored = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{intentId}/card",
            CardPost.Body(clientSecret, number, cvc, expMonth, expYear ?? DateTime.UtcNow.Year + 3, "Test Cardholder"));
        if (stored.StatusCode != HttpStatusCode.Created)
        {
            // The Vault's answers never contain the number, so this is safe to show.
            throw new InvalidOperationException($"The Vault answered {(int)stored.StatusCode}: {await stored.Content.ReadAsStringAsync()}");
        }
        using var json = JsonDocument.Parse(await stored.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("card_token").GetString()!;
    }

    /// <summary><c>POST /v1/tokenization-intents</c> with an empty body; returns the intent id and its client secret.</summary>
    public static async Task<(string IntentId, string ClientSecret)> CreateTokenizationIntentAsync(this GatewayFixture gateway, MerchantClient merchant)
    {
        _ = gateway;
        using var created = await merchant.Http.PostAsJsonAsync("/v1/tokenization-intents", new Dictionary<string, object?>());
        if (created.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"POST /v1/tokenization-intents answered {(int)created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
        }
        using var json = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        return (json.RootElement.GetProperty("id").GetString()!, json.RootElement.GetProperty("client_secret").GetString()!);
    }
}

/// <summary>What a client posts to the Vault's card route.</summary>
public static class CardPost
{
    /// <summary>
    /// The body of <c>POST /v1/tokenization-intents/{id}/card</c>, as JSON: a card valid for two more years unless
    /// <paramref name="expYear"/> says otherwise; no <c>holder_name</c> unless one is given.
    /// </summary>
    public static Dictionary<string, object?> Body(string clientSecret, string number = "4242424242424242", string cvc = "123",
        int expMonth = 12, int? expYear = null, string? holderName = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["client_secret"] = clientSecret, ["number"] = number, ["exp_month"] = expMonth,
            ["exp_year"] = expYear ?? DateTime.UtcNow.Year + 2, ["cvc"] = cvc,
        };
        if (holderName is not null)
        {
            body["holder_name"] = holderName;
        }
        return body;
    }
}
