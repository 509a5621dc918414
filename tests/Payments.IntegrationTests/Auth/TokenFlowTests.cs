using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.BuildingBlocks.Commands;
using Payments.TestKit;

namespace Payments.IntegrationTests.Auth;

public sealed class TokenFlowTests(AuthFixture gateway) : IClassFixture<AuthFixture>
{
    [Fact]
    public async Task Merchant_create_prints_exactly_one_json_object_and_stores_only_a_slow_hash()
    {
        var command = gateway.HostServices.GetServices<IHostCommand>().Single(c => c.Verb == "merchant");
        using var stdout = new StringWriter();

        var exit = await command.RunAsync(["create", "--name", "Acme"], stdout, CancellationToken.None);

        Assert.Equal(0, exit);
        var output = stdout.ToString();
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(output);
        var names = json.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["merchant_id", "client_id", "client_secret"], names);
        var merchantId = json.RootElement.GetProperty("merchant_id").GetString()!;
        var clientId = json.RootElement.GetProperty("client_id").GetString()!;
        var secret = json.RootElement.GetProperty("client_secret").GetString()!;
        Assert.StartsWith("mer_", merchantId, StringComparison.Ordinal);
        Assert.StartsWith("cli_", clientId, StringComparison.Ordinal);
        Assert.True(secret.Length >= 40);

        var db = gateway.HostServices.GetRequiredService<NpgsqlDataSource>();
        await using var cmd = db.CreateCommand("SELECT c.secret_hash, m.name FROM auth.api_clients c JOIN auth.merchants m ON m.id = c.merchant_id WHERE c.client_id = $1");
        cmd.Parameters.Add(new() { Value = clientId });
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.StartsWith("pbkdf2-sha256$", r.GetString(0), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, r.GetString(0), StringComparison.Ordinal);
        Assert.Equal("Acme", r.GetString(1));
    }

    [Fact]
    public async Task Merchant_create_without_a_name_fails_and_prints_nothing()
    {
        var command = gateway.HostServices.GetServices<IHostCommand>().Single(c => c.Verb == "merchant");
        using var stdout = new StringWriter();
        var before = await gateway.CountAsync("auth.merchants");

        var exit = await command.RunAsync(["create"], stdout, CancellationToken.None);

        Assert.NotEqual(0, exit);
        Assert.Equal("", stdout.ToString());
        Assert.Equal(before, await gateway.CountAsync("auth.merchants"));
    }

    [Fact]
    public async Task Json_token_is_an_es256_jwt_with_the_contract_claims_and_a_published_kid()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();

        var response = await http.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Bearer", body.RootElement.GetProperty("token_type").GetString());
        Assert.Equal(900, body.RootElement.GetProperty("expires_in").GetInt32());
        var token = body.RootElement.GetProperty("access_token").GetString()!;
        var parts = token.Split('.');
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        var kid = header.RootElement.GetProperty("kid").GetString();
        var claims = payload.RootElement;
        Assert.Equal(merchant.MerchantId, claims.GetProperty("sub").GetString());
        Assert.Equal("payments-api", claims.GetProperty("aud").GetString());
        Assert.False(string.IsNullOrEmpty(claims.GetProperty("iss").GetString()));
        Assert.False(string.IsNullOrEmpty(claims.GetProperty("jti").GetString()));
        Assert.Equal(900, claims.GetProperty("exp").GetInt64() - claims.GetProperty("iat").GetInt64());

        using var jwks = JsonDocument.Parse(await http.GetStringAsync("/.well-known/jwks.json"));
        var key = Assert.Single(jwks.RootElement.GetProperty("keys").EnumerateArray(), k => k.GetProperty("kid").GetString() == kid);
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("P-256", key.GetProperty("crv").GetString());
        Assert.False(key.TryGetProperty("d", out _));
    }

    [Fact]
    public async Task Form_with_client_credentials_grant_gets_a_token()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();

        var response = await http.PostAsync("/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = merchant.ClientId,
            ["client_secret"] = merchant.ClientSecret,
        }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Http_basic_gets_a_token_with_or_without_a_grant_form()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();
        var basic = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{merchant.ClientId}:{merchant.ClientSecret}")));

        using var bare = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/token");
        bare.Headers.Authorization = basic;
        using var form = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
        };
        form.Headers.Authorization = basic;

        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(bare)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(form)).StatusCode);
    }

    [Fact]
    public async Task Merchant_client_from_the_test_kit_uses_its_token_revokes_it_and_is_refused_afterwards()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var second = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);

        // Using the token: revoking a second token of the same merchant through it.
        var used = await merchant.Http.PostAsJsonAsync("/v1/auth/revoke", new { token = second });
        var revoked = await merchant.Http.PostAsync("/v1/auth/revoke", null);
        var after = await merchant.Http.PostAsync("/v1/auth/revoke", null);
        var secondAfter = await gateway.RevokeAsync(second);

        Assert.Equal(HttpStatusCode.NoContent, used.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        var problem = await AuthTestHelpers.ProblemAsync(after, HttpStatusCode.Unauthorized);
        Assert.Equal("invalid_token", problem.GetProperty("code").GetString());
        Assert.StartsWith("Bearer", after.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, secondAfter.StatusCode);
    }

    [Fact]
    public async Task Another_merchants_token_in_the_revoke_body_is_not_revoked()
    {
        var alice = await gateway.CreateMerchantClientAsync();
        var bob = await gateway.CreateMerchantClientAsync();
        var before = await gateway.CountAsync("auth.revoked_tokens");

        var response = await alice.Http.PostAsJsonAsync("/v1/auth/revoke", new { token = bob.AccessToken });

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(before, await gateway.CountAsync("auth.revoked_tokens"));
        Assert.Equal(HttpStatusCode.NoContent, (await bob.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);
    }

    [Fact]
    public async Task Revoke_with_an_empty_json_object_revokes_the_presented_token()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var before = await gateway.CountAsync("auth.revoked_tokens");

        var revoked = await merchant.Http.PostAsync("/v1/auth/revoke", new StringContent("{}", Encoding.UTF8, "application/json"));
        var after = await merchant.Http.PostAsync("/v1/auth/revoke", null);

        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        Assert.Equal(before + 1, await gateway.CountAsync("auth.revoked_tokens"));
        var problem = await AuthTestHelpers.ProblemAsync(after, HttpStatusCode.Unauthorized);
        Assert.Equal("invalid_token", problem.GetProperty("code").GetString());
    }
}
