using System.Net;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using StackExchange.Redis;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Idempotency;

public sealed class IdempotencyTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private static object Authorize(string token, long amount = 1200) =>
        new { operation = "authorize", amount, currency = "USD", card_token = token, order_id = "idem-order" };

    private Task<long> CountAsync(MerchantClient merchant) =>
        ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", merchant.MerchantId);

    [Fact]
    public async Task The_same_key_and_body_replays_the_first_answer_and_moves_nothing_twice()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var key = Guid.NewGuid().ToString();

        var first = await PostAsync(merchant.Http, "/v1/transactions", Authorize(token), key);
        var second = await PostAsync(merchant.Http, "/v1/transactions", Authorize(token), key);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.False(first.Response.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(HttpStatusCode.Created, second.Status);
        Assert.Equal("true", Assert.Single(second.Response.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(first.Body!.ToJsonString(), second.Body!.ToJsonString());
        Assert.Equal(first.Response.Headers.ETag, second.Response.Headers.ETag);
        Assert.Equal(1, await CountAsync(merchant));
    }

    [Fact]
    public async Task The_same_body_in_another_key_order_and_spacing_is_the_same_request()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var key = Guid.NewGuid().ToString();
        var compact = $$"""{"operation":"authorize","amount":1200,"currency":"USD","card_token":"{{token}}","order_id":"idem-order"}""";
        var reordered = $$"""{ "order_id" : "idem-order", "card_token":"{{token}}",  "currency":"USD", "amount": 1.2e3, "operation":"authorize" }""";

        var first = await PostAsync(merchant.Http, "/v1/transactions", compact, key);
        var second = await PostAsync(merchant.Http, "/v1/transactions", reordered, key);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.Created, second.Status);
        Assert.True(second.Response.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, await CountAsync(merchant));
    }

    [Fact]
    public async Task The_same_key_with_another_body_or_path_is_422_idempotency_key_reused()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var key = Guid.NewGuid().ToString();
        var first = await PostAsync(merchant.Http, "/v1/transactions", Authorize(token), key);

        var otherBody = await PostAsync(merchant.Http, "/v1/transactions", Authorize(token, 1300), key);
        var otherPath = await PostAsync(merchant.Http, $"/v1/transactions/{Str(first.Body, "trx_id")}", new { operation = "capture" }, key);
        var invalidBody = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize" }, key);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherBody.Status);
        Assert.Equal("idempotency_key_reused", Code(otherBody.Body));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherPath.Status);
        Assert.Equal("idempotency_key_reused", Code(otherPath.Body));
        // Evaluated before any other rule, validation included.
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalidBody.Status);
        Assert.Equal(1, await CountAsync(merchant));
        var read = await GetAsync(merchant.Http, $"/v1/transactions/{Str(first.Body, "trx_id")}");
        Assert.Equal("AUTHORIZED", Str(read.Body, "status"));
    }

    [Fact]
    public async Task Fifty_concurrent_requests_with_one_key_create_exactly_one_transaction()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var key = Guid.NewGuid().ToString();

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => PostAsync(merchant.Http, "/v1/transactions", Authorize(token), key)));

        Assert.Equal(1, await CountAsync(merchant));
        var created = answers.Where(a => a.Status == HttpStatusCode.Created).ToList();
        var inProgress = answers.Where(a => a.Status == HttpStatusCode.Conflict).ToList();
        Assert.Equal(50, created.Count + inProgress.Count);
        Assert.NotEmpty(created);
        Assert.Single(created.Select(a => Str(a.Body, "trx_id")).Distinct());
        Assert.All(inProgress, a =>
        {
            Assert.Equal("idempotency_request_in_progress", Code(a.Body));
            Assert.NotNull(a.Response.Headers.RetryAfter);
        });
        var replay = await PostAsync(merchant.Http, "/v1/transactions", Authorize(token), key);
        Assert.Equal(Str(created[0].Body, "trx_id"), Str(replay.Body, "trx_id"));
    }

    [Fact]
    public async Task A_400_leaves_the_key_free_but_a_404_is_kept_and_replayed()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var key = Guid.NewGuid().ToString();
        var notFoundKey = Guid.NewGuid().ToString();
        var unknownToken = Authorize("tok_01J5XCMDXCFXCAQ1BV8HVG6644");

        var invalid = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", amount = 0 }, key);
        var valid = await PostAsync(merchant.Http, "/v1/transactions", Authorize(token), key);
        var missing = await PostAsync(merchant.Http, "/v1/transactions", unknownToken, notFoundKey);
        var missingAgain = await PostAsync(merchant.Http, "/v1/transactions", unknownToken, notFoundKey);

        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.Equal(HttpStatusCode.Created, valid.Status);
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal(HttpStatusCode.NotFound, missingAgain.Status);
        Assert.True(missingAgain.Response.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(missing.Body!.ToJsonString(), missingAgain.Body!.ToJsonString());
    }

    [Fact]
    public async Task Keys_are_per_merchant()
    {
        var a = await gateway.CreateMerchantClientAsync();
        var b = await gateway.CreateMerchantClientAsync();
        var key = Guid.NewGuid().ToString();

        var first = await PostAsync(a.Http, "/v1/transactions", Authorize(await gateway.TokenizeCardAsync(a)), key);
        var second = await PostAsync(b.Http, "/v1/transactions", Authorize(await gateway.TokenizeCardAsync(b)), key);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.Created, second.Status);
        Assert.False(second.Response.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, await CountAsync(a));
        Assert.Equal(1, await CountAsync(b));
    }

    [Theory]
    [InlineData("caf\u00e9")]
    public async Task A_malformed_key_is_400(string key)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var tooLong = await PostAsync(merchant.Http, "/v1/payment-intents", new { amount = 100, currency = "USD", order_id = "o" }, new string('k', 256));
        var bad = await PostAsync(merchant.Http, "/v1/payment-intents", new { amount = 100, currency = "USD", order_id = "o" }, key);

        Assert.Equal(HttpStatusCode.BadRequest, tooLong.Status);
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM intents.payment_intents WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Fact]
    public async Task The_answer_is_stored_in_the_same_transaction_as_the_change()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var key = Guid.NewGuid().ToString();

        var created = await PostAsync(merchant.Http, "/v1/payment-intents", new { amount = 100, currency = "USD", order_id = "o" }, key);

        Assert.Equal(HttpStatusCode.Created, created.Status);
        // The stored row is complete and holds exactly what was answered.
        Assert.Equal(1, await ScalarAsync(gateway, """
            SELECT count(*) FROM idempotency.requests
             WHERE merchant_id = $1 AND idem_key = $2 AND state = 'completed' AND response_status = 201
               AND convert_from(response_body, 'UTF8')::jsonb ->> 'id' = $3
               AND expires_at > now() + interval '7 days'
            """, merchant.MerchantId, StoredKey(key), Str(created.Body, "id")));
    }

    [Fact]
    public async Task A_key_is_stored_only_as_its_digest_so_a_card_number_used_as_one_is_not_kept()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        const string pan = "6011000990139424"; // a merchant's mistake: the customer's card number as the key
        var body = new { amount = 100, currency = "USD", order_id = "o-" + Guid.NewGuid().ToString("N")[..8] };

        var created = await PostAsync(merchant.Http, "/v1/payment-intents", body, pan);
        var replayed = await PostAsync(merchant.Http, "/v1/payment-intents", body, pan);

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal(Str(created.Body, "id"), Str(replayed.Body, "id"));
        Assert.Equal(0, await ScalarAsync(gateway, """
            SELECT count(*) FROM idempotency.requests
             WHERE strpos(idem_key || response_headers::text || encode(response_body, 'escape'), $1) > 0
            """, pan));
        Assert.Equal(1, await ScalarAsync(gateway,
            "SELECT count(*) FROM idempotency.requests WHERE merchant_id = $1 AND idem_key = $2", merchant.MerchantId, StoredKey(pan)));
    }
}

/// <summary>A gateway on a Redis of its own, which the test stops.</summary>
public sealed class PrivateRedisFixture : TransactionsFixture
{
    private RedisServer? redis;

    protected override async Task<RedisServer> UseRedisAsync() => redis = await RedisServer.StartAsync();

    public Task StopRedisAsync() => redis!.StopProcessAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (redis is not null)
        {
            await redis.DisposeAsync();
        }
    }
}

public sealed class IdempotencyWithoutRedisTests(PrivateRedisFixture gateway) : IClassFixture<PrivateRedisFixture>
{
    [Fact]
    public async Task With_redis_down_a_key_still_replays_and_nothing_happens_twice()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var cachedKey = Guid.NewGuid().ToString();
        var body = new { operation = "authorize", amount = 500, currency = "USD", card_token = token, order_id = "no-redis" };
        var cached = await PostAsync(merchant.Http, "/v1/transactions", body, cachedKey);
        var trxId = Str(cached.Body, "trx_id");

        await gateway.StopRedisAsync();
        var captureKey = Guid.NewGuid().ToString();
        var replayOfCached = await PostAsync(merchant.Http, "/v1/transactions", body, cachedKey);
        var captures = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            PostAsync(merchant.Http, $"/v1/transactions/{trxId}", new { operation = "capture", amount = 100 }, captureKey)));
        var again = await PostAsync(merchant.Http, $"/v1/transactions/{trxId}", new { operation = "capture", amount = 100 }, captureKey);

        Assert.Equal(HttpStatusCode.Created, replayOfCached.Status);
        Assert.Equal(trxId, Str(replayOfCached.Body, "trx_id"));
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.True(again.Response.Headers.Contains("Idempotent-Replayed"));
        Assert.All(captures, c => Assert.True(c.Status is HttpStatusCode.OK or HttpStatusCode.Conflict, $"{(int)c.Status}: {c.Body}"));
        Assert.Equal(100, await ScalarAsync(gateway, "SELECT captured_amount FROM transactions.transactions WHERE trx_id = $1", trxId));
    }
}

/// <summary>Redis is the cache of answers, off the path of a new request (issue 17): read only for a key PostgreSQL reports taken.</summary>
public sealed class IdempotencyCacheTests(PrivateRedisFixture gateway) : IClassFixture<PrivateRedisFixture>
{
    [Fact]
    public async Task A_new_key_is_claimed_without_reading_redis_and_its_replay_reads_the_cached_answer()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(gateway.Redis.ConnectionString + ",allowAdmin=true");
        var server = redis.GetServer(gateway.Redis.Endpoint);
        var key = Guid.NewGuid().ToString();
        var body = new { operation = "authorize", amount = 700, currency = "USD", card_token = token, order_id = "cache-path" };

        // Only the idempotency cache issues GET on this gateway's Redis (limits run a script, revocations use pub/sub).
        var getsBefore = await GetCallsAsync(server);
        var first = await PostAsync(merchant.Http, "/v1/transactions", body, key);
        var getsAfterFirst = await GetCallsAsync(server);
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(getsBefore, getsAfterFirst);

        // The answer is cached after the commit, without the request waiting for it.
        var cacheKeys = new List<RedisKey>();
        for (var i = 0; i < 50 && cacheKeys.Count == 0; i++)
        {
            await Task.Delay(20);
            cacheKeys = server.Keys(pattern: $"idem:{merchant.MerchantId}:*").ToList();
        }
        Assert.Single(cacheKeys);

        var replay = await PostAsync(merchant.Http, "/v1/transactions", body, key);
        Assert.Equal(HttpStatusCode.Created, replay.Status);
        Assert.True(replay.Response.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(Str(first.Body, "trx_id"), Str(replay.Body, "trx_id"));
        Assert.Equal(getsAfterFirst + 1, await GetCallsAsync(server));
    }

    private static async Task<long> GetCallsAsync(IServer server)
    {
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).FirstOrDefault(kv => kv.Key == "cmdstat_get");
        // "calls=12,usec=...": absent until the first GET.
        return stats.Value is null ? 0 : long.Parse(stats.Value.Split(',')[0].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
