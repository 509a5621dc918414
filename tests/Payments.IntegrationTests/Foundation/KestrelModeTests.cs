using System.Net;
using Payments.TestKit;

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
}
