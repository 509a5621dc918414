using System.Net;
using System.Text.Json;
using Payments.IntegrationTests.Idempotency;

namespace Payments.IntegrationTests.Foundation;

/// <summary>
/// Redis is a cache whose loss changes no answer, so a balancer must not take a Host out of service for it: readiness
/// stays 200 and shows Redis as degraded.
/// </summary>
public sealed class ReadinessWithoutRedisTests(PrivateRedisFixture gateway) : IClassFixture<PrivateRedisFixture>
{
    [Fact]
    public async Task With_redis_down_the_host_stays_ready_and_shows_redis_degraded()
    {
        using var client = gateway.CreateClient();
        await gateway.StopRedisAsync();

        using var ready = await client.GetAsync(new Uri("/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal("Degraded", body.RootElement.GetProperty("status").GetString());
        var checks = body.RootElement.GetProperty("checks");
        Assert.Equal("Degraded", checks.GetProperty("redis").GetString());
        Assert.Equal("Healthy", checks.GetProperty("postgresql").GetString());
        Assert.Equal("Healthy", checks.GetProperty("vault").GetString());
    }
}
