using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.Auth.Authentication;
using Payments.Auth.Tokens;
using Payments.BuildingBlocks.Commands;
using Payments.IntegrationTests.Limits;
using Payments.TestKit;
using StackExchange.Redis;

namespace Payments.IntegrationTests.Auth;

/// <summary>
/// The contract: a revoked token answers 401 at once on the Host that revoked it and within one second on every
/// other, whether Redis carries the news or not; and an authenticated request costs no Redis read (docs/adr/0013).
/// </summary>
public sealed class RevocationAcrossHostsTests(RevocationAcrossHostsTests.Fixture gateway)
    : IClassFixture<RevocationAcrossHostsTests.Fixture>, IAsyncLifetime
{
    /// <summary>Its own Redis: tests here stop it and count its commands.</summary>
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

    /// <summary>Settings for a second Host that never polls on its own: only pub/sub (or a reconnect) can tell it.</summary>
    private static readonly Dictionary<string, string?> NoPoll = new() { ["Auth:RevocationPollInterval"] = "01:00:00" };

    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (!gateway.HostServices.GetRequiredService<IConnectionMultiplexer>().IsConnected)
        {
            await RestartRedisAsync(gateway.HostServices);
        }
    }

    [Fact]
    public async Task Revoked_on_one_host_is_refused_there_at_once_and_on_another_within_a_second()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var b = gateway.CreateAnotherHost();
        using var onB = b.CreateClientFor(merchant);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(onB));

        Assert.Equal(HttpStatusCode.NoContent, (await merchant.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);
        var onA = await StatusAsync(merchant.Http);
        var calls = await ProbeAsync(onB);

        Assert.Equal(HttpStatusCode.Unauthorized, onA);
        AssertRefusedWithinOneSecond(calls);
    }

    [Fact]
    public async Task Pub_sub_alone_tells_another_host_within_a_second()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var b = gateway.CreateAnotherHost(NoPoll);
        await WaitLoadedAsync(b.Services);
        using var onB = b.CreateClientFor(merchant);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(onB));

        Assert.Equal(HttpStatusCode.NoContent, (await merchant.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);

        AssertRefusedWithinOneSecond(await ProbeAsync(onB));
    }

    [Fact]
    public async Task With_redis_stopped_another_host_refuses_within_a_second_from_postgresql()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var b = gateway.CreateAnotherHost();
        await WaitLoadedAsync(b.Services);
        using var onB = b.CreateClientFor(merchant);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(onB));

        await gateway.PrivateRedis.StopProcessAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await merchant.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);
        var onA = await StatusAsync(merchant.Http);
        var calls = await ProbeAsync(onB);

        Assert.Equal(HttpStatusCode.Unauthorized, onA);
        AssertRefusedWithinOneSecond(calls);
    }

    [Fact]
    public async Task A_revocation_published_while_a_host_was_disconnected_is_honoured_when_it_reconnects()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var later = await gateway.CreateMerchantClientAsync();
        await using var b = gateway.CreateAnotherHost(NoPoll);
        await WaitLoadedAsync(b.Services);
        using var onB = b.CreateClientFor(merchant);
        using var laterOnB = b.CreateClientFor(later);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(onB));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(laterOnB));

        await gateway.PrivateRedis.StopProcessAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await merchant.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);
        await RestartRedisAsync(gateway.HostServices, b.Services);

        // The message was lost and B does not poll: it catches up when its subscription is back.
        AssertRefusedWithinOneSecond(await ProbeAsync(onB));
        // And it is subscribed again.
        Assert.Equal(HttpStatusCode.NoContent, (await later.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);
        AssertRefusedWithinOneSecond(await ProbeAsync(laterOnB));
    }

    [Fact]
    public async Task A_revocation_committed_late_is_still_found_by_the_poll()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var b = gateway.CreateAnotherHost();
        await WaitLoadedAsync(b.Services);
        using var onB = b.CreateClientFor(merchant);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(onB));

        // Written straight to the record (nothing published), by a transaction that stays open while B polls several
        // times: its row is stamped before B's polls but visible only after them.
        await using (var conn = new NpgsqlConnection(gateway.HostConnectionString))
        {
            await conn.OpenAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await using (var insert = new NpgsqlCommand(
                "INSERT INTO auth.revoked_tokens (jti, merchant_id, expires_at, revoked_at) VALUES ($1, $2, now() + interval '15 minutes', now())", conn, tx))
            {
                insert.Parameters.Add(new() { Value = JtiOf(merchant.AccessToken) });
                insert.Parameters.Add(new() { Value = merchant.MerchantId });
                await insert.ExecuteNonQueryAsync();
            }
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(onB));
            await tx.CommitAsync();
        }

        AssertRefusedWithinOneSecond(await ProbeAsync(onB));
    }

    [Fact]
    public async Task Authenticated_requests_read_nothing_from_redis()
    {
        const int Requests = 50;
        var merchant = await gateway.CreateMerchantClientAsync();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(merchant.Http));
        await WaitLoadedAsync(gateway.HostServices);

        var before = await RedisReadsAsync();
        for (var i = 0; i < Requests; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(merchant.Http));
        }
        var after = await RedisReadsAsync();

        // Background work (the Redis refill, every two seconds) may read a key or two meanwhile; a read per request
        // would add at least fifty.
        Assert.True(after - before < Requests / 5, $"{after - before} Redis reads (EXISTS, GET, MGET) for {Requests} authenticated requests");
    }

    [Fact]
    public async Task A_verified_token_is_refused_once_its_signing_key_is_withdrawn()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(merchant.Http));
        var command = gateway.HostServices.GetServices<IHostCommand>().Single(c => c.Verb == "keys");
        using (var stdout = new StringWriter())
        {
            Assert.Equal(0, await command.RunAsync(["rotate", "--now"], stdout, CancellationToken.None));
        }
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(merchant.Http));

        // An operator withdraws the retired key (say it leaked): the tokens it signed must stop, verified before or not.
        await using (var db = NpgsqlDataSource.Create(gateway.HostConnectionString))
        await using (var delete = db.CreateCommand("DELETE FROM auth.signing_keys WHERE kid = $1"))
        {
            delete.Parameters.Add(new() { Value = KidOf(merchant.AccessToken) });
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }
        await gateway.HostServices.GetRequiredService<SigningKeyStore>().ReloadNowAsync(CancellationToken.None);

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(merchant.Http));
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri(Limited.ListPath, UriKind.Relative));
        return response.StatusCode;
    }

    /// <summary>
    /// A GET every 50 ms for 1.3 s from now, each on its own (a slow answer does not delay the next call): when each
    /// was sent, and its status.
    /// </summary>
    private static async Task<(TimeSpan Sent, HttpStatusCode Status)[]> ProbeAsync(HttpClient http)
    {
        var watch = Stopwatch.StartNew();
        var calls = new List<Task<(TimeSpan, HttpStatusCode)>>();
        while (watch.Elapsed < TimeSpan.FromMilliseconds(1300))
        {
            calls.Add(CallAsync());
            await Task.Delay(50);
        }
        return await Task.WhenAll(calls);

        async Task<(TimeSpan, HttpStatusCode)> CallAsync()
        {
            var sent = watch.Elapsed;
            return (sent, await StatusAsync(http));
        }
    }

    /// <summary>
    /// A call sent within one second was refused, and every call sent from one second on. (Calls sent close together
    /// before that may be authenticated out of order, so a 200 may follow a 401 there.)
    /// </summary>
    private static void AssertRefusedWithinOneSecond((TimeSpan Sent, HttpStatusCode Status)[] calls)
    {
        var described = string.Join(", ", calls.Select(c => $"{c.Sent.TotalMilliseconds:0} ms: {(int)c.Status}"));
        Assert.True(calls.Any(c => c.Sent <= OneSecond && c.Status == HttpStatusCode.Unauthorized), $"not refused within one second: {described}");
        Assert.True(calls.Where(c => c.Sent >= OneSecond).All(c => c.Status == HttpStatusCode.Unauthorized), $"accepted after one second: {described}");
        Assert.True(calls.All(c => c.Status is HttpStatusCode.OK or HttpStatusCode.Unauthorized), $"an answer other than 200 or 401: {described}");
    }

    private static async Task WaitLoadedAsync(IServiceProvider host)
    {
        var set = host.GetRequiredService<RevokedSet>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!set.Loaded && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.True(set.Loaded, "the Host did not load the revocations from PostgreSQL");
    }

    private async Task RestartRedisAsync(params IServiceProvider[] hosts)
    {
        await gateway.PrivateRedis.StopProcessAsync();
        await gateway.PrivateRedis.StartProcessAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        foreach (var host in hosts)
        {
            var mux = host.GetRequiredService<IConnectionMultiplexer>();
            while (!mux.IsConnected && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
            Assert.True(mux.IsConnected, "a Host did not reconnect to Redis");
        }
        // Pub/sub resubscribes on a connection of its own: wait for every Host's subscription, as Redis counts them.
        await using var admin = await ConnectionMultiplexer.ConnectAsync(gateway.PrivateRedis.ConnectionString);
        var server = admin.GetServer(gateway.PrivateRedis.Endpoint);
        while (await server.SubscriptionSubscriberCountAsync(RevocationStore.Channel) < hosts.Length && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal((long)hosts.Length, await server.SubscriptionSubscriberCountAsync(RevocationStore.Channel));
    }

    /// <summary>The calls of Redis' key-reading commands since it started, from <c>INFO commandstats</c>.</summary>
    private async Task<long> RedisReadsAsync()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(gateway.PrivateRedis.ConnectionString + ",allowAdmin=true");
        var stats = await mux.GetServer(gateway.PrivateRedis.Endpoint).InfoAsync("commandstats");
        return stats.SelectMany(g => g)
            .Where(kv => kv.Key is "cmdstat_exists" or "cmdstat_get" or "cmdstat_mget")
            .Sum(kv => long.Parse(kv.Value.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture));
    }

    private static string JtiOf(string token) => ClaimsOf(token).GetProperty("jti").GetString()!;

    private static string KidOf(string token)
    {
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[0]));
        return header.RootElement.GetProperty("kid").GetString()!;
    }

    private static JsonElement ClaimsOf(string token)
    {
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[1]));
        return payload.RootElement.Clone();
    }
}
