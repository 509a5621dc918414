using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Tokenization.Contracts;
using Payments.Vault.Contracts;

namespace Payments.IntegrationTests.Tokenization;

public sealed class TokenizationIntentTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    private static int NextYear => DateTime.UtcNow.Year + 1;

    private async Task<HttpResponseMessage> PostCardAsync(string intentId, object body)
    {
        using var vault = gateway.Vault.CreateClient();
        return await vault.PostAsJsonAsync($"/v1/tokenization-intents/{intentId}/card", body);
    }

    private static Dictionary<string, object?> Card(string secret, string number = "4242424242424242", int? expYear = null, string cvc = "123") => new()
    {
        ["client_secret"] = secret, ["number"] = number, ["exp_month"] = 12, ["exp_year"] = expYear ?? NextYear, ["cvc"] = cvc,
        ["holder_name"] = "Grace Hopper",
    };

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    [Fact]
    public async Task A_card_posted_to_the_vault_makes_the_intent_succeed_with_its_token_and_display_data()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        using var created = await merchant.Http.PostAsJsonAsync("/v1/tokenization-intents",
            new { return_url = "https://shop.example/back", metadata = new Dictionary<string, string> { ["customer"] = "c-42" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var intent = await JsonAsync(created);
        var id = intent.GetProperty("id").GetString()!;
        Assert.StartsWith("tki_", id, StringComparison.Ordinal);
        Assert.Equal("REQUIRES_CARD", intent.GetProperty("status").GetString());
        Assert.StartsWith(gateway.Vault.BaseAddress.ToString().TrimEnd('/') + $"/v1/tokenization-intents/{id}/card-entry?client_secret=",
            intent.GetProperty("card_entry_url").GetString(), StringComparison.Ordinal);

        using var stored = await PostCardAsync(id, Card(intent.GetProperty("client_secret").GetString()!, "5555555555554444"));
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);

        using var read = await merchant.Http.GetAsync($"/v1/tokenization-intents/{id}");
        Assert.True(read.StatusCode == HttpStatusCode.OK, $"GET answered {(int)read.StatusCode}: {await read.Content.ReadAsStringAsync()}");
        var shown = await JsonAsync(read);
        Assert.Equal("SUCCEEDED", shown.GetProperty("status").GetString());
        var token = shown.GetProperty("card_token").GetString()!;
        Assert.StartsWith("tok_", token, StringComparison.Ordinal);
        var card = shown.GetProperty("card");
        Assert.Equal("MASTERCARD", card.GetProperty("brand").GetString());
        Assert.Equal("4444", card.GetProperty("last4").GetString());
        Assert.Equal(12, card.GetProperty("exp_month").GetInt32());
        Assert.Equal(NextYear, card.GetProperty("exp_year").GetInt32());
        Assert.Equal("c-42", shown.GetProperty("metadata").GetProperty("customer").GetString());
        Assert.Equal(token, (await JsonAsync(stored)).GetProperty("card_token").GetString());
        // The Vault's 201 is the intent as the Host shows it (the contract), and the create answer's times are the GET's.
        var vaultAnswer = System.Text.Json.Nodes.JsonNode.Parse(await stored.Content.ReadAsStringAsync());
        var hostAnswer = System.Text.Json.Nodes.JsonNode.Parse(shown.GetRawText());
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(hostAnswer, vaultAnswer), $"Vault: {vaultAnswer}\nHost:  {hostAnswer}");
        Assert.Equal(intent.GetProperty("created_at").GetString(), shown.GetProperty("created_at").GetString());

        // The token authorizes through the Vault.
        var vault = gateway.HostServices.GetRequiredService<IVaultClient>();
        var outcome = await vault.AuthorizeAsync(merchant.MerchantId, new AcquirerRequest(token, 1050, "USD", "trx_done"), CancellationToken.None);
        Assert.True(outcome.Approved);
    }

    [Fact]
    public async Task An_idempotency_key_replays_the_intent_with_its_secret_kept_only_sealed_and_makes_no_second_one()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        async Task<HttpResponseMessage> Create(string returnUrl)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/tokenization-intents")
            {
                Content = JsonContent.Create(new { return_url = returnUrl }),
            };
            request.Headers.Add("Idempotency-Key", "tki-once");
            return await merchant.Http.SendAsync(request);
        }

        using var first = await Create("https://shop.example/back");
        using var again = await Create("https://shop.example/back");
        using var third = await Create("https://shop.example/back");
        using var other = await Create("https://shop.example/elsewhere");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var a = await JsonAsync(first);
        Assert.StartsWith(a.GetProperty("id").GetString() + "_secret_", a.GetProperty("client_secret").GetString(), StringComparison.Ordinal);
        var secret = a.GetProperty("client_secret").GetString()!;
        Assert.Contains(Uri.EscapeDataString(secret), a.GetProperty("card_entry_url").GetString(), StringComparison.Ordinal);
        // Each replay is the first answer, secret and card-entry URL included (the contract), whether PostgreSQL or the
        // Redis cache serves it.
        foreach (var replay in new[] { again, third })
        {
            Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
            Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
            Assert.Equal(a.GetRawText(), await replay.Content.ReadAsStringAsync());
        }
        Assert.Equal((HttpStatusCode)422, other.StatusCode);

        // One intent, and its secret nowhere in clear in the Host's database: the stored answer has it sealed only.
        await using var db = new Npgsql.NpgsqlConnection(gateway.HostConnectionString);
        await db.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("""
            SELECT (SELECT count(*) FROM tokenization.intents WHERE merchant_id = $1),
                   (SELECT count(*) FROM idempotency.requests WHERE merchant_id = $1
                       AND (position($2::bytea IN response_body) > 0 OR position(convert_from($2, 'UTF8') IN response_headers::text) > 0))
            """, db);
        cmd.Parameters.Add(new() { Value = merchant.MerchantId });
        cmd.Parameters.Add(new() { Value = System.Text.Encoding.UTF8.GetBytes(secret) });
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        Assert.Equal(1L, r.GetInt64(0));
        Assert.Equal(0L, r.GetInt64(1));
    }

    [Fact]
    public async Task The_fingerprint_is_equal_within_a_merchant_and_differs_between_merchants()
    {
        var a = await gateway.CreateMerchantClientAsync();
        var b = await gateway.CreateMerchantClientAsync();

        async Task<string> FingerprintAsync(MerchantClient m)
        {
            var (id, secret) = await gateway.CreateTokenizationIntentAsync(m);
            using var stored = await PostCardAsync(id, Card(secret));
            return (await JsonAsync(stored)).GetProperty("card").GetProperty("fingerprint").GetString()!;
        }

        var a1 = await FingerprintAsync(a);
        var a2 = await FingerprintAsync(a);
        var b1 = await FingerprintAsync(b);

        Assert.Equal(a1, a2);
        Assert.NotEqual(a1, b1);
    }

    [Fact]
    public async Task Another_merchants_intent_and_token_answer_not_found()
    {
        var a = await gateway.CreateMerchantClientAsync();
        var b = await gateway.CreateMerchantClientAsync();
        var (id, _) = await gateway.CreateTokenizationIntentAsync(a);
        var token = await gateway.TokenizeCardAsync(a);

        using var intent = await b.Http.GetAsync($"/v1/tokenization-intents/{id}");
        using var delete = await b.Http.DeleteAsync($"/v1/card-tokens/{token}");

        Assert.Equal(HttpStatusCode.NotFound, intent.StatusCode);
        Assert.Equal("not_found", (await JsonAsync(intent)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
        Assert.NotNull(await gateway.HostServices.GetRequiredService<IVaultClient>().GetCardAsync(a.MerchantId, token, CancellationToken.None));
    }

    [Fact]
    public async Task A_deleted_card_token_answers_as_unknown()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);

        using var deleted = await merchant.Http.DeleteAsync($"/v1/card-tokens/{token}");
        using var again = await merchant.Http.DeleteAsync($"/v1/card-tokens/{token}");
        using var malformed = await merchant.Http.DeleteAsync("/v1/card-tokens/tok_nope");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, malformed.StatusCode);
        var outcome = await gateway.HostServices.GetRequiredService<IVaultClient>()
            .AuthorizeAsync(merchant.MerchantId, new AcquirerRequest(token, 100, "USD", "trx_del"), CancellationToken.None);
        Assert.False(outcome.CardFound);
    }

    [Fact]
    public async Task A_used_intent_refuses_a_second_card()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (id, secret) = await gateway.CreateTokenizationIntentAsync(merchant);
        using var first = await PostCardAsync(id, Card(secret));

        using var second = await PostCardAsync(id, Card(secret, "5555555555554444"));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        Assert.Equal("intent_succeeded", (await JsonAsync(second)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_secret_that_never_belonged_to_the_intent_is_not_found()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (id, _) = await gateway.CreateTokenizationIntentAsync(merchant);
        var (_, otherSecret) = await gateway.CreateTokenizationIntentAsync(merchant);

        using var response = await PostCardAsync(id, Card(otherSecret));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Invalid_card_data_is_refused_without_echoing_the_number_and_five_refusals_fail_the_intent()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (id, secret) = await gateway.CreateTokenizationIntentAsync(merchant);
        var invalid = new[]
        {
            Card(secret, "4242424242424241"),                  // Luhn
            Card(secret, expYear: DateTime.UtcNow.Year - 1),   // expired
            Card(secret, cvc: "12"),                           // CVC
            Card(secret, "42424242424"),                       // too short
            Card(secret, "4242424242424241"),
        };
        foreach (var body in invalid)
        {
            using var refused = await PostCardAsync(id, body);
            var text = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.DoesNotContain("424242424", text, StringComparison.Ordinal);
        }
        using var afterFailure = await PostCardAsync(id, Card(secret));

        Assert.Equal(HttpStatusCode.Conflict, afterFailure.StatusCode);
        Assert.Equal("intent_failed", (await JsonAsync(afterFailure)).GetProperty("code").GetString());
        var shown = await JsonAsync(await merchant.Http.GetAsync($"/v1/tokenization-intents/{id}"));
        Assert.Equal("FAILED", shown.GetProperty("status").GetString());
    }

    [Fact]
    public async Task An_unknown_field_named_with_a_card_number_is_refused_without_echoing_the_name()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (id, secret) = await gateway.CreateTokenizationIntentAsync(merchant);
        var body = Card(secret);
        body["5555555555554444"] = 1;
        body["pan 4000 0000 0000 0002"] = 1;
        body["nickname"] = "work";

        using var refused = await PostCardAsync(id, body);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var text = await refused.Content.ReadAsStringAsync();
        Assert.DoesNotContain("5555555555554444", text, StringComparison.Ordinal);
        Assert.DoesNotContain("4000 0000", text, StringComparison.Ordinal);
        var errors = (await JsonAsync(refused)).GetProperty("errors");
        Assert.Equal("Unknown field.", errors.GetProperty("body")[0].GetString());
        Assert.Equal("Unknown field.", errors.GetProperty("nickname")[0].GetString());
    }

    [Fact]
    public async Task A_success_is_recorded_for_webhooks_without_anyone_reading_the_intent()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (id, secret) = await gateway.CreateTokenizationIntentAsync(merchant);
        using var stored = await PostCardAsync(id, Card(secret));
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);

        var events = gateway.HostServices.GetRequiredService<ITokenizationEvents>();
        TokenizationIntentEvent? recorded = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (recorded is null && !timeout.IsCancellationRequested)
        {
            recorded = (await events.ReadAfterAsync(0, 1000, CancellationToken.None)).FirstOrDefault(e => e.IntentId == id);
            if (recorded is null)
            {
                await Task.Delay(100, CancellationToken.None); // polling the background sync's effect, bounded above
            }
        }

        Assert.NotNull(recorded);
        Assert.Equal("tokenization_intent.succeeded", recorded.Type);
        Assert.Equal(merchant.MerchantId, recorded.MerchantId);
        Assert.Contains("\"SUCCEEDED\"", recorded.DataJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Card_data_in_metadata_is_refused()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        using var response = await merchant.Http.PostAsJsonAsync("/v1/tokenization-intents",
            new { metadata = new Dictionary<string, string> { ["note"] = "4242 4242 4242 4242" } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("card_data_in_field", text, StringComparison.Ordinal);
        Assert.DoesNotContain("4242", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://shop.example/back\r\nX-Injected: 1")]
    [InlineData("https://shop.example/back\tx")]
    [InlineData(" https://shop.example/lead")]
    [InlineData("https://shop.example/trail ")]
    [InlineData("https://shop.example/sp ace")]
    [InlineData("https://shop.example:0/back")]
    public async Task A_return_url_with_whitespace_a_control_character_or_port_0_is_refused_and_not_stored(string returnUrl)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        using var response = await merchant.Http.PostAsJsonAsync("/v1/tokenization-intents", new { return_url = returnUrl });

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("return_url", out _), text);
        Assert.Equal(0, await Payments.IntegrationTests.Transactions.Api.ScalarAsync(gateway,
            "SELECT count(*) FROM tokenization.intents WHERE merchant_id = $1", merchant.MerchantId));
    }
}

public sealed class ExpiredIntentFixture : GatewayFixture
{
    protected override void ConfigureHost(Dictionary<string, string?> settings) => settings["Tokenization:IntentLifetimeMinutes"] = "0";
}

public sealed class ExpiredTokenizationIntentTests(ExpiredIntentFixture gateway) : IClassFixture<ExpiredIntentFixture>
{
    [Fact]
    public async Task An_intent_past_its_expiry_reads_expired_at_once_and_refuses_a_card()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (id, secret) = await gateway.CreateTokenizationIntentAsync(merchant);

        using var vault = gateway.Vault.CreateClient();
        using var refused = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{id}/card", new Dictionary<string, object?>
        {
            ["client_secret"] = secret, ["number"] = "4242424242424242", ["exp_month"] = 12, ["exp_year"] = DateTime.UtcNow.Year + 1, ["cvc"] = "123",
        });
        using var shown = await merchant.Http.GetAsync($"/v1/tokenization-intents/{id}");

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("intent_expired", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("\"EXPIRED\"", await shown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
