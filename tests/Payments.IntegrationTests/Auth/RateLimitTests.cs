using System.Net;
using Payments.TestKit;

namespace Payments.IntegrationTests.Auth;

public sealed class RateLimitTests(PrivateRedisAuthFixture gateway) : IClassFixture<PrivateRedisAuthFixture>, IDisposable
{
    public void Dispose() => gateway.Clock.Reset();

    private static int nextIp = 10;

    /// <summary>A client whose requests come from their own IP address, so tests do not share a per-IP counter.</summary>
    private HttpClient ClientFrom(out IPAddress ip)
    {
        var address = ip = IPAddress.Parse($"198.51.100.{Interlocked.Increment(ref nextIp)}");
        return new HttpClient(gateway.Host.Server.CreateHandler(ctx => ctx.Connection.RemoteIpAddress = address))
        {
            BaseAddress = new Uri("http://localhost/"),
        };
    }

    [Fact]
    public async Task After_ten_failures_a_client_gets_429_even_with_the_right_secret_until_the_window_passes()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = ClientFrom(out _);

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostTokenJsonAsync(merchant.ClientId, "sk_wrong")).StatusCode);
        }
        var limited = await http.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret);
        var stillLimited = await http.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret);

        var problem = await AuthTestHelpers.ProblemAsync(limited, HttpStatusCode.TooManyRequests);
        Assert.Equal("rate_limited", problem.GetProperty("code").GetString());
        var retryAfter = limited.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        Assert.Equal(HttpStatusCode.TooManyRequests, stillLimited.StatusCode);

        // Another client from the same IP is not limited by this client's failures.
        var other = await gateway.CreateMerchantAsync();
        Assert.Equal(HttpStatusCode.OK, (await http.PostTokenJsonAsync(other.ClientId, other.ClientSecret)).StatusCode);

        // 429s did not count: once the ten failures leave the window, the right secret works again.
        gateway.Clock.Advance(retryAfter.Value + TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await http.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret)).StatusCode);
    }

    [Fact]
    public async Task After_a_hundred_failures_from_one_ip_every_token_request_from_it_gets_429()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var attacker = ClientFrom(out _);
        using var bystander = ClientFrom(out _);

        for (var i = 0; i < 100; i++)
        {
            // A different unknown client each time: only the per-IP counter grows past its limit.
            Assert.Equal(HttpStatusCode.Unauthorized, (await attacker.PostTokenJsonAsync($"cli_guess{i}", "sk_wrong")).StatusCode);
        }
        var limited = await attacker.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret);

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, (await bystander.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret)).StatusCode);
    }
}
