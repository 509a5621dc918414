using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.TestKit;
using Payments.Webhooks.Delivery;

namespace Payments.IntegrationTests.Webhooks;

public sealed class WebhookSsrfTests(LiveWebhooksFixture gateway) : IClassFixture<LiveWebhooksFixture>
{
    [Theory]
    [InlineData("http://hooks.merchant-example.com/hook")]
    [InlineData("https://127.0.0.1/hook")]
    [InlineData("https://localhost/hook")]
    [InlineData("https://[::1]/hook")]
    [InlineData("https://10.1.2.3/hook")]
    [InlineData("https://192.168.0.10/hook")]
    [InlineData("https://169.254.169.254/latest/meta-data")]
    [InlineData("https://[::ffff:10.0.0.1]/hook")]
    [InlineData("https://intranet/hook")]
    public async Task Live_mode_refuses_plain_http_and_non_public_addresses(string url)
    {
        var m = await gateway.CreateMerchantClientAsync();

        using var response = await m.Http.PostAsJsonAsync("/v1/webhook-endpoints", new { url, enabled_events = new[] { "*" } });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"url\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Live_mode_refuses_at_send_time_a_name_that_resolves_inside()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var m = await gateway.CreateMerchantClientAsync();
        // Registration sees a public-looking https name; at send time it resolves to loopback (DNS rebinding).
        var id = (await m.CreateEndpointAsync($"https://hooks.merchant-example.com:{receiver.BaseAddress.Port}/hook"))
            .GetProperty("id").GetString();
        await m.AuthorizeAsync(500);

        var db = gateway.HostServices.GetRequiredService<NpgsqlDataSource>();
        var error = await WebhookApi.EventuallyAsync(async () =>
        {
            await using var cmd = db.CreateCommand("SELECT last_error FROM webhooks.deliveries WHERE endpoint_id = $1 AND last_error IS NOT NULL LIMIT 1");
            cmd.Parameters.Add(new() { Value = id });
            return await cmd.ExecuteScalarAsync() as string;
        }, e => e is not null, what: "a refused attempt");

        Assert.StartsWith("Refused: hooks.merchant-example.com resolves to an address that is not public", error, StringComparison.Ordinal);
        Assert.Empty(receiver.Received);
    }

    [Theory]
    [InlineData("8.8.8.8", true)]
    [InlineData("2606:4700:4700::1111", true)]
    [InlineData("::ffff:8.8.8.8", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("172.16.5.4", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fc00::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("64:ff9b::a00:1", false)]
    public void Only_globally_routable_addresses_are_public(string address, bool isPublic)
    {
        Assert.Equal(isPublic, AddressPolicy.IsPublic(IPAddress.Parse(address)));
        Assert.Equal(isPublic, AddressPolicy.IsAllowed(IPAddress.Parse(address), sandbox: false));
    }

    [Fact]
    public void The_sandbox_also_allows_loopback_but_not_private_addresses()
    {
        Assert.True(AddressPolicy.IsAllowed(IPAddress.Loopback, sandbox: true));
        Assert.True(AddressPolicy.IsAllowed(IPAddress.IPv6Loopback, sandbox: true));
        Assert.False(AddressPolicy.IsAllowed(IPAddress.Parse("10.0.0.1"), sandbox: true));
        Assert.False(AddressPolicy.IsAllowed(IPAddress.Parse("169.254.169.254"), sandbox: true));
        Assert.Null(AddressPolicy.CheckUrl("http://127.0.0.1:5000/hook", sandbox: true));
        Assert.NotNull(AddressPolicy.CheckUrl("http://127.0.0.1:5000/hook", sandbox: false));
    }
}
