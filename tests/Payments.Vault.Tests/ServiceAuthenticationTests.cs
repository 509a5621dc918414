using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Payments.Vault.Client;

namespace Payments.Vault.Tests;

public sealed class ServiceAuthenticationTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    private const string Path = "/internal/v1/acquirer/authorize";

    private static StringContent Body(string token) =>
        new($$"""{"card_token":"{{token}}","amount":100,"currency":"USD","reference":"trx_r","capture":false}""", Encoding.UTF8, "application/json");

    private async Task<HttpResponseMessage> SendAsync(string? authorization, string body)
    {
        using var http = vault.Vault.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        return await http.SendAsync(request);
    }

    [Fact]
    public async Task An_unsigned_call_is_refused()
    {
        using var response = await SendAsync(null, await Body("tok_00000000000000000000000000").ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_replayed_call_is_refused()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var body = await Body(token).ReadAsStringAsync();
        var signer = vault.HostServices.GetRequiredService<ServiceTokenSigner>();
        var authorization = signer.Sign(merchant, "POST", Path, Encoding.UTF8.GetBytes(body));

        using var first = await SendAsync(authorization, body);
        using var replay = await SendAsync(authorization, body);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
    }

    [Fact]
    public async Task A_signature_for_another_body_or_route_is_refused()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var body = await Body(token).ReadAsStringAsync();
        var signer = vault.HostServices.GetRequiredService<ServiceTokenSigner>();

        using var otherBody = await SendAsync(signer.Sign(merchant, "POST", Path, Encoding.UTF8.GetBytes(body)), body.Replace("100", "999", StringComparison.Ordinal));
        using var otherPath = await SendAsync(signer.Sign(merchant, "POST", "/internal/v1/acquirer/refund", Encoding.UTF8.GetBytes(body)), body);
        using var wrongKey = await SendAsync(new ServiceTokenSigner(Convert.ToBase64String(new byte[32]), TimeProvider.System)
            .Sign(merchant, "POST", Path, Encoding.UTF8.GetBytes(body)), body);

        Assert.Equal(HttpStatusCode.Unauthorized, otherBody.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, otherPath.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
    }
}
