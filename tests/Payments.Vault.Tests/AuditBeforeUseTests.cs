using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Payments.TestKit;

namespace Payments.Vault.Tests;

/// <summary>
/// Item 7 of issue #16: a card use is on record before the card is decrypted. A real Vault process is made to die
/// (<c>Environment.FailFast</c>, test switch <c>Vault:Testing:CrashAfterDecryption</c>, refused in live mode) right after
/// decryption, before the acquirer answers; its "use started" row is there, with the attempt still reserved.
/// </summary>
public sealed class AuditBeforeUseTests
{
    [Fact]
    public async Task A_vault_that_dies_after_decrypting_a_card_has_already_recorded_the_use()
    {
        await using var processes = await GatewayProcesses.StartAsync(new GatewayProcessOptions
        {
            Durable = false,
            VaultEnvironment = new Dictionary<string, string> { ["Vault__Testing__CrashAfterDecryption"] = "true" },
        });
        var created = await processes.RunHostCommandAsync("merchant", "create", "--name", "Crash suite");
        using var merchant = JsonDocument.Parse(created.Trim().Split('\n').Last());
        using var host = new HttpClient { BaseAddress = processes.HostUrl, Timeout = TimeSpan.FromSeconds(60) };
        using (var token = await host.PostAsJsonAsync("/v1/auth/token", new Dictionary<string, string>
               {
                   ["client_id"] = merchant.RootElement.GetProperty("client_id").GetString()!,
                   ["client_secret"] = merchant.RootElement.GetProperty("client_secret").GetString()!,
               }))
        {
            token.EnsureSuccessStatusCode();
            host.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
                JsonDocument.Parse(await token.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString());
        }
        using var intentAnswer = await host.PostAsJsonAsync("/v1/tokenization-intents", new { });
        intentAnswer.EnsureSuccessStatusCode();
        using var intent = JsonDocument.Parse(await intentAnswer.Content.ReadAsStringAsync());
        using var vault = new HttpClient { BaseAddress = processes.VaultUrl };
        using var card = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{intent.RootElement.GetProperty("id").GetString()}/card",
            new Dictionary<string, object>
            {
                ["client_secret"] = intent.RootElement.GetProperty("client_secret").GetString()!, ["number"] = "4242424242424242",
                ["exp_month"] = 12, ["exp_year"] = DateTime.UtcNow.Year + 2, ["cvc"] = "123",
            });
        card.EnsureSuccessStatusCode();
        var cardToken = JsonDocument.Parse(await card.Content.ReadAsStringAsync()).RootElement.GetProperty("card_token").GetString()!;

        using var authorize = new HttpRequestMessage(HttpMethod.Post, "/v1/transactions")
        {
            Content = JsonContent.Create(new Dictionary<string, object>
            {
                ["operation"] = "authorize", ["amount"] = 1234, ["currency"] = "EUR", ["card_token"] = cardToken, ["order_id"] = "crash-1",
            }),
        };
        authorize.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        using var answer = await host.SendAsync(authorize);

        Assert.False(answer.IsSuccessStatusCode, "the Vault was to die before answering");
        await using var db = new NpgsqlConnection(processes.VaultConnectionString);
        await db.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT string_agg(action || ':' || coalesce(detail::jsonb ->> 'amount', ''), ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action <> 'card.tokenized'", db);
        cmd.Parameters.Add(new() { Value = cardToken });
        Assert.Equal("card_use.started:1234", await cmd.ExecuteScalarAsync() as string);
        await using var attempt = new NpgsqlCommand("SELECT string_agg(state, ',') FROM vault.acquirer_attempts WHERE card_token = $1", db);
        attempt.Parameters.Add(new() { Value = cardToken });
        Assert.Equal("pending", await attempt.ExecuteScalarAsync() as string);
    }
}
