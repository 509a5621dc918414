using System.Net;
using System.Net.Http.Headers;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Foundation;

public sealed class KestrelGatewayFixture : GatewayFixture
{
    protected override bool UseKestrel => true;
}

public sealed class KestrelModeTests(KestrelGatewayFixture gateway) : IClassFixture<KestrelGatewayFixture>
{
    [Fact]
    public async Task Host_and_vault_answer_on_real_loopback_ports()
    {
        using var http = new HttpClient();

        var host = await http.GetAsync(new Uri(gateway.Host.BaseAddress, "health/ready"));
        var vault = await http.GetAsync(new Uri(gateway.Vault.BaseAddress, "health/ready"));

        Assert.Equal(HttpStatusCode.OK, host.StatusCode);
        Assert.Equal(HttpStatusCode.OK, vault.StatusCode);
        Assert.Equal("127.0.0.1", gateway.Host.BaseAddress.Host);
        Assert.NotEqual(gateway.Host.BaseAddress.Port, gateway.Vault.BaseAddress.Port);
    }

    /// <summary>HEAD is GET without the content (RFC 9110 §9.3.2), on a real socket, where the server drops the body.</summary>
    [Fact]
    public async Task HEAD_answers_as_GET_without_the_content()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var trxId = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        using var http = new HttpClient { BaseAddress = gateway.Host.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", merchant.AccessToken);

        using var get = await http.GetAsync($"/v1/transactions/{trxId}");
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/transactions/{trxId}"));
        using var missing = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644"));
        using var ready = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/health/ready"));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.NotNull(head.Headers.ETag);
        Assert.True(head.Headers.Contains("Request-Id"));
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Empty(await missing.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
