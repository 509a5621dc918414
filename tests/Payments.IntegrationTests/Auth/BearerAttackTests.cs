using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Payments.Auth.Tokens;
using Payments.TestKit;

namespace Payments.IntegrationTests.Auth;

/// <summary>Every bearer token the gateway must refuse, on an authenticated route (<c>POST /v1/auth/revoke</c>).</summary>
public sealed class BearerAttackTests(AuthFixture gateway) : IClassFixture<AuthFixture>, IDisposable
{
    public void Dispose() => gateway.Clock.Reset();

    private async Task<(string Kid, ECDsa Key)> SigningKeyAsync() =>
        await gateway.HostServices.GetRequiredService<SigningKeyStore>().GetSigningKeyAsync(CancellationToken.None);

    private static JsonObject Claims(string merchantId, DateTimeOffset now, int lifetimeSeconds = 900) => new()
    {
        ["iss"] = "https://payments.example/",
        ["aud"] = "payments-api",
        ["sub"] = merchantId,
        ["jti"] = "tok_" + Guid.NewGuid().ToString("N"),
        ["iat"] = now.ToUnixTimeSeconds(),
        ["nbf"] = now.ToUnixTimeSeconds(),
        ["exp"] = now.ToUnixTimeSeconds() + lifetimeSeconds,
    };

    private static string Unsigned(JsonObject header, JsonObject payload) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()));

    private async Task AssertRefusedAsync(string token)
    {
        var before = await gateway.CountAsync("auth.revoked_tokens");
        var response = await gateway.RevokeAsync(token);
        var problem = await AuthTestHelpers.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("invalid_token", problem.GetProperty("code").GetString());
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(before, await gateway.CountAsync("auth.revoked_tokens"));
    }

    [Fact]
    public async Task A_correctly_signed_token_made_the_same_way_is_accepted()
    {
        // The control for the forgeries below: the same builder with honest claims passes.
        var merchant = await gateway.CreateMerchantAsync();
        var (kid, key) = await SigningKeyAsync();
        var token = Jwt.Sign(new JsonObject { ["alg"] = "ES256", ["kid"] = kid }, Claims(merchant.MerchantId, gateway.Clock.GetUtcNow()), key);

        Assert.Equal(HttpStatusCode.NoContent, (await gateway.RevokeAsync(token)).StatusCode);
    }

    [Fact]
    public async Task Missing_token_is_401_unauthorized_with_www_authenticate()
    {
        using var http = gateway.CreateClient();

        var response = await http.PostAsync("/v1/auth/revoke", null);

        var problem = await AuthTestHelpers.ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("unauthorized", problem.GetProperty("code").GetString());
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9..")]
    [InlineData("....")]
    public async Task Malformed_tokens_are_401_invalid_token(string token) => await AssertRefusedAsync(token);

    [Fact]
    public async Task Non_bearer_authorization_is_401_invalid_token()
    {
        using var http = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/revoke");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", "eDp5");

        var response = await http.SendAsync(request);

        Assert.Equal("invalid_token", (await AuthTestHelpers.ProblemAsync(response, HttpStatusCode.Unauthorized)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Expired_token_is_refused()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        gateway.Clock.Advance(TimeSpan.FromMinutes(16));

        await AssertRefusedAsync(merchant.AccessToken);
    }

    [Fact]
    public async Task Token_still_valid_just_before_expiry()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        gateway.Clock.Advance(TimeSpan.FromMinutes(14));

        Assert.Equal(HttpStatusCode.NoContent, (await merchant.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);
    }

    [Fact]
    public async Task Not_yet_valid_token_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        gateway.Clock.Advance(TimeSpan.FromMinutes(5));
        var future = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);

        gateway.Clock.Reset();

        await AssertRefusedAsync(future);
    }

    [Fact]
    public async Task Wrong_audience_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        var (kid, key) = await SigningKeyAsync();
        var claims = Claims(merchant.MerchantId, gateway.Clock.GetUtcNow());
        claims["aud"] = "someone-else";

        await AssertRefusedAsync(Jwt.Sign(new JsonObject { ["alg"] = "ES256", ["kid"] = kid }, claims, key));
    }

    [Fact]
    public async Task Wrong_issuer_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        var (kid, key) = await SigningKeyAsync();
        var claims = Claims(merchant.MerchantId, gateway.Clock.GetUtcNow());
        claims["iss"] = "https://evil.example/";

        await AssertRefusedAsync(Jwt.Sign(new JsonObject { ["alg"] = "ES256", ["kid"] = kid }, claims, key));
    }

    [Fact]
    public async Task Token_longer_lived_than_the_gateway_issues_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        var (kid, key) = await SigningKeyAsync();

        await AssertRefusedAsync(Jwt.Sign(new JsonObject { ["alg"] = "ES256", ["kid"] = kid },
            Claims(merchant.MerchantId, gateway.Clock.GetUtcNow(), lifetimeSeconds: 86400), key));
    }

    [Fact]
    public async Task Alg_none_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        var (kid, _) = await SigningKeyAsync();
        var unsigned = Unsigned(new JsonObject { ["alg"] = "none", ["kid"] = kid }, Claims(merchant.MerchantId, gateway.Clock.GetUtcNow()));

        await AssertRefusedAsync(unsigned + ".");
        await AssertRefusedAsync(unsigned);
    }

    [Fact]
    public async Task Hs256_signed_with_the_public_key_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        var (kid, key) = await SigningKeyAsync();
        var input = Unsigned(new JsonObject { ["alg"] = "HS256", ["kid"] = kid }, Claims(merchant.MerchantId, gateway.Clock.GetUtcNow()));

        foreach (var secret in new[] { Encoding.ASCII.GetBytes(key.ExportSubjectPublicKeyInfoPem()), key.ExportSubjectPublicKeyInfo() })
        {
            var mac = HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input));
            await AssertRefusedAsync(input + "." + Base64Url.EncodeToString(mac));
        }
    }

    [Fact]
    public async Task Unknown_kid_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        await AssertRefusedAsync(Jwt.Sign(new JsonObject { ["alg"] = "ES256", ["kid"] = "key_ATTACKER" },
            Claims(merchant.MerchantId, gateway.Clock.GetUtcNow()), attacker));
    }

    [Fact]
    public async Task Known_kid_with_a_signature_from_another_key_is_refused()
    {
        var merchant = await gateway.CreateMerchantAsync();
        var (kid, _) = await SigningKeyAsync();
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        await AssertRefusedAsync(Jwt.Sign(new JsonObject { ["alg"] = "ES256", ["kid"] = kid },
            Claims(merchant.MerchantId, gateway.Clock.GetUtcNow()), attacker));
    }

    [Fact]
    public async Task Tampered_payload_is_refused()
    {
        var alice = await gateway.CreateMerchantClientAsync();
        var bob = await gateway.CreateMerchantAsync();
        var parts = alice.AccessToken.Split('.');
        var payload = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!.AsObject();
        payload["sub"] = bob.MerchantId;

        await AssertRefusedAsync(parts[0] + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString())) + "." + parts[2]);
    }
}
