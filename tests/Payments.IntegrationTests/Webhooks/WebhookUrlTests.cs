using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.TestKit;

namespace Payments.IntegrationTests.Webhooks;

/// <summary>What the registration route refuses in a URL beyond the SSRF policy, in the sandbox (where http and loopback pass).</summary>
public sealed class WebhookUrlTests(WebhooksFixture gateway) : IClassFixture<WebhooksFixture>
{
    [Theory]
    [InlineData("http://127.0.0.1:18183/a\r\nX-Injected: 1")]
    [InlineData("http://127.0.0.1:18183/a\nX-Injected: 1")]
    [InlineData("http://127.0.0.1:18183/a\r")]
    [InlineData("http://127.0.0.1:18183/a\tb")]
    [InlineData(" http://127.0.0.1:18183/lead")]
    [InlineData("http://127.0.0.1:18183/trail ")]
    [InlineData("http://127.0.0.1:18183/sp ace")]
    [InlineData("http://127.0.0.1:18183/nbsp\u00a0x")]
    [InlineData("http://127.0.0.1:18183/nul\u0000x")]
    [InlineData("http://127.0.0.1:18183/del\u007fx")]
    [InlineData("http://127.0.0.1:0/x")]
    [InlineData("https://hooks.merchant-example.com:0/x")]
    public async Task A_url_with_whitespace_a_control_character_or_port_0_is_refused_and_not_stored(string url)
    {
        var m = await gateway.CreateMerchantClientAsync();

        using var response = await m.Http.PostAsJsonAsync("/v1/webhook-endpoints", new { url, enabled_events = new[] { "*" } });

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _), text);
        Assert.Equal(0, (await m.GetJsonAsync("/v1/webhook-endpoints")).GetProperty("data").GetArrayLength());
        await using var cmd = gateway.HostServices.GetRequiredService<NpgsqlDataSource>()
            .CreateCommand("SELECT count(*) FROM webhooks.endpoints WHERE merchant_id = $1");
        cmd.Parameters.Add(new() { Value = m.MerchantId });
        Assert.Equal(0L, await cmd.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("http://127.0.0.1:18183/hook")]
    [InlineData("http://127.0.0.1:1/hook?a=b%20c")]
    [InlineData("https://hooks.merchant-example.com:65535/hook")]
    public async Task A_clean_url_is_stored_as_sent(string url)
    {
        var m = await gateway.CreateMerchantClientAsync();

        var created = await m.CreateEndpointAsync(url);

        Assert.Equal(url, created.GetProperty("url").GetString());
    }
}
