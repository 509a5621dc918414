using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Payments.Auth.Authentication;
using Payments.TestKit;
using StackExchange.Redis;

namespace Payments.IntegrationTests.Auth;

/// <summary>Revocation and rate limits with Redis stopped and restarted empty: a revoked token is never accepted.</summary>
public sealed class RedisOutageTests(RedisOutageTests.Fixture gateway) : IClassFixture<RedisOutageTests.Fixture>, IAsyncLifetime
{
    public sealed class Fixture : AuthFixture
    {
        public RedisServer PrivateRedis { get; private set; } = null!;

        protected override async Task<RedisServer> UseRedisAsync() => PrivateRedis = await RedisServer.StartAsync();

        public override async Task DisposeAsync()
        {
            await base.DisposeAsync();
            await PrivateRedis.DisposeAsync();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        gateway.Clock.Reset();
        await StartRedisAsync();
    }

    private async Task StartRedisAsync()
    {
        await gateway.PrivateRedis.StopProcessAsync();
        await gateway.PrivateRedis.StartProcessAsync();
        var mux = gateway.HostServices.GetRequiredService<IConnectionMultiplexer>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!mux.IsConnected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Token_revoked_before_redis_stops_stays_refused_while_it_is_down_and_after_it_restarts_empty()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await merchant.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);

        await gateway.PrivateRedis.StopProcessAsync();
        var whileDown = await gateway.RevokeAsync(merchant.AccessToken);
        await StartRedisAsync();
        var afterRestart = await gateway.RevokeAsync(merchant.AccessToken);

        Assert.Equal(HttpStatusCode.Unauthorized, whileDown.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterRestart.StatusCode);
    }

    [Fact]
    public async Task Token_revoked_while_redis_is_down_is_refused_then_and_after_redis_returns()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var other = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);

        await gateway.PrivateRedis.StopProcessAsync();
        // A valid token is still accepted (revocation falls back to PostgreSQL, not to 503).
        var revoke = await merchant.Http.PostAsJsonAsync("/v1/auth/revoke", new { token = other });
        var whileDown = await gateway.RevokeAsync(other);
        await StartRedisAsync();
        var afterRestart = await gateway.RevokeAsync(other);

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, whileDown.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterRestart.StatusCode);

        // Once the sync has refilled Redis, Redis alone refuses it.
        var redis = gateway.HostServices.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var store = gateway.HostServices.GetRequiredService<RevocationStore>();
        await store.SyncAsync(CancellationToken.None);
        Assert.True(await redis.KeyExistsAsync(RevocationStore.LoadedMarker));
        var jti = System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(other.Split('.')[1]))
            .RootElement.GetProperty("jti").GetString();
        Assert.True(await redis.KeyExistsAsync(RevocationStore.KeyPrefix + jti));
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.RevokeAsync(other)).StatusCode);
    }

    [Fact]
    public async Task With_redis_down_failures_are_still_limited_in_process()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();

        await gateway.PrivateRedis.StopProcessAsync();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostTokenJsonAsync(merchant.ClientId, "sk_wrong")).StatusCode);
        }
        var limited = await http.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret);

        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter?.Delta);
    }
}
