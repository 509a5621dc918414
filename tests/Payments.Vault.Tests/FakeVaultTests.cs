using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.TestKit;

namespace Payments.Vault.Tests;

/// <summary>
/// Something between the Host and the Vault (or posing as the Vault) answers <c>approved</c> without the Vault's
/// signature bound to the call: the Host must treat it as the Vault unavailable (503) and book nothing.
/// </summary>
public sealed class FakeVaultTests(FakeVaultFixture gateway) : IClassFixture<FakeVaultFixture>
{
    private const string Token = "tok_0123456789ABCDEFGHJKMNPQRS";

    [Theory]
    [InlineData(null)]
    [InlineData("v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task An_answer_without_the_vaults_signature_books_nothing_and_is_503(string? signature)
    {
        gateway.Signature = signature;
        var merchant = await gateway.CreateMerchantClientAsync();
        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..10];

        using var answer = await merchant.Http.PostAsJsonAsync("/v1/transactions", new Dictionary<string, object>
        {
            ["operation"] = "authorize", ["amount"] = 1000, ["currency"] = "USD", ["card_token"] = Token, ["order_id"] = orderId,
        });

        var text = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)answer.StatusCode}: {text}");
        using var problem = JsonDocument.Parse(text);
        Assert.Equal("service_unavailable", problem.RootElement.GetProperty("code").GetString());
        Assert.True(gateway.FakeAnswers > 0, "the fake Vault was never asked");
        await using var conn = new NpgsqlConnection(gateway.HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", conn);
        cmd.Parameters.Add(new() { Value = merchant.MerchantId });
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
    }
}

/// <summary>The real Vault for merchants and intents, but card uses answered by a fake that approves everything.</summary>
public sealed class FakeVaultFixture : GatewayFixture
{
    private int fakeAnswers;

    /// <summary>The signature header the fake sends (null: none).</summary>
    public string? Signature { get; set; }

    public int FakeAnswers => fakeAnswers;

    protected override void ConfigureHostServices(IServiceCollection services) =>
        services.AddHttpClient(Payments.Vault.Client.VaultClientSetup.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(() => new FakeVault(this));

    private sealed class FakeVault(FakeVaultFixture owner) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref owner.fakeAnswers);
            var path = request.RequestUri!.AbsolutePath;
            // The feed a well-formed empty page, so the Host's background readers keep running; card uses approved.
            var body = path.EndsWith("/tokenization-intents-succeeded", StringComparison.Ordinal) ? "[]"
                : path.Contains("/acquirer/", StringComparison.Ordinal)
                ? """{"card_found":true,"approved":true,"authorization_code":"FAKE01","decline_code":null,"brand":"VISA","last4":"4242"}"""
                : """{"brand":"VISA","last4":"4242","exp_month":12,"exp_year":2040,"fingerprint":"fp"}""";
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            if (owner.Signature is { } s)
            {
                response.Headers.TryAddWithoutValidation("Vault-Response-Signature", s);
            }
            return Task.FromResult(response);
        }
    }
}
