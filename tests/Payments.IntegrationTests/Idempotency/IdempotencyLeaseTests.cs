using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.BuildingBlocks.Idempotency;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using Payments.Transactions.Lifecycle;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Idempotency;

/// <summary>Lost leases, made by moving a claim's <c>lease_until</c> into the past while its request is stalled.</summary>
public sealed class IdempotencyLeaseTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Fact]
    public async Task A_stalled_request_that_lost_its_key_rolls_back_and_answers_with_the_request_that_took_it_over()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..12];
        var name = "stall_" + orderId.Replace('-', '_');
        // The first insert of this order waits on a lock the test holds: the request stalls inside its transaction.
        await using var stall = await CommitStall.StartAsync(gateway, name, "INSERT", $"NEW.order_id = '{orderId}'");
        var body = new { operation = "authorize", amount = 3100, currency = "USD", card_token = token, order_id = orderId };
        var key = Guid.NewGuid().ToString();

        var stalled = PostAsync(merchant.Http, "/v1/transactions", body, key);
        await stall.WaitAsync();
        // The stalled request's lease lapses; the request that takes the key over holds a full lease.
        await ExecAsync(gateway, "UPDATE idempotency.requests SET lease_until = now() - interval '1 second' WHERE idem_key = $1", StoredKey(key));

        var takeover = await PostAsync(merchant.Http, "/v1/transactions", body, key);
        await stall.ReleaseAsync();
        var first = await stalled;

        Assert.Equal(HttpStatusCode.Created, takeover.Status);
        Assert.False(takeover.Response.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal("true", Assert.Single(first.Response.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(takeover.Body!.ToJsonString(), first.Body!.ToJsonString());
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id = $1", orderId));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.history h JOIN transactions.transactions t USING (trx_id) WHERE t.order_id = $1", orderId));
    }

    [Fact]
    public async Task A_stalled_capture_that_lost_its_key_rolls_back_its_commit_batch_and_the_takeover_captures_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var (status, created, _) = await PostAsync(merchant.Http, "/v1/transactions",
            new { operation = "authorize", amount = 2500, currency = "USD", card_token = token, order_id = "lease-capture" }, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Created, status);
        var trxId = Str(created, "trx_id");
        var name = "stall_" + trxId;
        // The first capture of this payment waits, holding the row, on a lock the test holds.
        await using var stall = await CommitStall.StartAsync(gateway, name, "UPDATE", $"NEW.trx_id = '{trxId}'");
        var key = Guid.NewGuid().ToString();
        var capture = new { operation = "capture", amount = 1000 };

        var stalled = PostAsync(merchant.Http, $"/v1/transactions/{trxId}", capture, key);
        await stall.WaitAsync();
        await ExecAsync(gateway, "UPDATE idempotency.requests SET lease_until = now() - interval '1 second' WHERE idem_key = $1", StoredKey(key));
        // The takeover claims the key, then waits for the row the stalled capture holds.
        var takeover = PostAsync(merchant.Http, $"/v1/transactions/{trxId}", capture, key);
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway,
            "SELECT count(*) FROM idempotency.requests WHERE idem_key = $1 AND lease_until > now()", StoredKey(key)) == 1), "the takeover never claimed the key");
        await stall.ReleaseAsync();
        var (first, taken) = (await stalled, await takeover);

        Assert.Equal(HttpStatusCode.OK, taken.Status);
        Assert.False(taken.Response.Headers.Contains("Idempotent-Replayed"));
        // The stalled request's change rolled back with its answer; it then answers as the key says (in progress, or
        // the takeover's answer if that one finished first).
        if (first.Status == HttpStatusCode.OK)
        {
            Assert.Equal(taken.Body!.ToJsonString(), first.Body!.ToJsonString());
        }
        else
        {
            Assert.Equal(HttpStatusCode.Conflict, first.Status);
            Assert.Equal("idempotency_request_in_progress", Str(first.Body, "code"));
        }
        Assert.Equal(1000, await ScalarAsync(gateway, "SELECT captured_amount FROM transactions.transactions WHERE trx_id = $1", trxId));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.history WHERE trx_id = $1 AND operation = 'CAPTURE'", trxId));
        // The connection the rolled-back capture used went back to the pool clean: the rest of the payment captures.
        var rest = await PostAsync(merchant.Http, $"/v1/transactions/{trxId}", new { operation = "capture" }, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.OK, rest.Status);
        Assert.Equal(2500, await ScalarAsync(gateway, "SELECT captured_amount FROM transactions.transactions WHERE trx_id = $1", trxId));
    }

    [Fact]
    public async Task A_refusal_from_a_request_that_lost_its_key_is_neither_stored_nor_cached()
    {
        var store = gateway.HostServices.GetRequiredService<IdempotencyStore>();
        var merchant = "mer_" + Guid.NewGuid().ToString("N");
        var key = Guid.NewGuid().ToString();
        var fingerprint = System.Security.Cryptography.SHA256.HashData(Guid.NewGuid().ToByteArray());
        var ct = CancellationToken.None;
        var lost = Assert.IsType<ClaimOutcome.Claimed>(await store.ClaimAsync(merchant, key, fingerprint, ct)).Claim;
        await ExecAsync(gateway, "UPDATE idempotency.requests SET lease_until = now() - interval '1 second' WHERE idem_key = $1", StoredKey(key));
        var taker = Assert.IsType<ClaimOutcome.Claimed>(await store.ClaimAsync(merchant, key, fingerprint, ct)).Claim;

        var refusal = new StoredResponse(404, new Dictionary<string, string>(), "{\"code\":\"not_found\"}"u8.ToArray());
        Assert.False(await store.CompleteAsync(lost, refusal, ct));

        // Neither PostgreSQL nor the Redis cache answers with the lost request's refusal.
        Assert.IsType<ClaimOutcome.InProgress>(await store.ClaimAsync(merchant, key, fingerprint, ct));
        Assert.True(await store.CompleteAsync(taker, new StoredResponse(201, new Dictionary<string, string>(), "{}"u8.ToArray()), ct));
        Assert.Equal(201, Assert.IsType<ClaimOutcome.Replay>(await store.ClaimAsync(merchant, key, fingerprint, ct)).Response.Status);
        // The cache ends when the row does: retention counts from the claim in both.
        Assert.Equal(1, await ScalarAsync(gateway,
            "SELECT count(*) FROM idempotency.requests WHERE idem_key = $1 AND abs(extract(epoch FROM expires_at - $2)) < 0.001",
            StoredKey(key), taker.ExpiresAt));
    }

    [Fact]
    public async Task The_sweep_deletes_keys_past_their_retention_and_keeps_the_others()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var (expired, kept) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        foreach (var key in new[] { expired, kept })
        {
            var order = "ord-" + Guid.NewGuid().ToString("N")[..12];
            var (status, _, _) = await PostAsync(merchant.Http, "/v1/transactions",
                new { operation = "authorize", amount = 500, currency = "USD", card_token = token, order_id = order }, key);
            Assert.Equal(HttpStatusCode.Created, status);
        }
        await ExecAsync(gateway, "UPDATE idempotency.requests SET expires_at = now() - interval '1 second' WHERE idem_key = $1", StoredKey(expired));

        await gateway.HostServices.GetRequiredService<ExpirySweeper>().RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM idempotency.requests WHERE idem_key = $1", StoredKey(expired)));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM idempotency.requests WHERE idem_key = $1", StoredKey(kept)));
    }
}
