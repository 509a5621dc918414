using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Ids;
using Payments.TestKit;
using Payments.Transactions.Features.Authorize;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// The cross-request group commit of new payments (issue 17 How 3, docs/adr/0034). A first payment is made to stall
/// inside its commit (a trigger waits on an advisory lock the test holds), so the payments after it queue and form one
/// group the moment it is released: the grouping is made, not hoped for.
/// </summary>
public sealed class PaymentGroupCommitTests(GroupCommitFixture gateway) : IClassFixture<GroupCommitFixture>
{
    private const int Group = 6;

    [Fact]
    public async Task Payments_queued_behind_a_commit_are_written_in_one_transaction_each_with_its_own_history_event_and_answer()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var run = Guid.NewGuid().ToString("N")[..10];
        await using var stall = await CommitStall.StartAsync(gateway, $"gc_{run}", "INSERT", $"NEW.order_id = 'first-{run}'");

        var first = Authorize(merchant, token, $"first-{run}", Guid.NewGuid().ToString());
        await stall.WaitAsync();
        var keys = Enumerable.Range(0, Group).Select(_ => Guid.NewGuid().ToString()).ToList();
        var queued = keys.Select((key, i) => Authorize(merchant, token, $"grp-{run}-{i}", key, capture: i % 2 == 0)).ToList();
        await WaitForQueuedAsync(Group);
        await stall.ReleaseAsync();
        var answers = await Task.WhenAll(queued);

        Assert.Equal(HttpStatusCode.Created, (await first).Status);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Created, a.Status));
        // One commit: the rows of one transaction carry its id.
        Assert.Equal(1, await ScalarAsync(gateway,
            "SELECT count(DISTINCT xmin::text) FROM transactions.transactions WHERE order_id LIKE $1", $"grp-{run}-%"));
        Assert.Equal(2, await ScalarAsync(gateway,
            "SELECT count(DISTINCT xmin::text) FROM transactions.transactions WHERE order_id LIKE $1 OR order_id = $2", $"grp-{run}-%", $"first-{run}"));
        for (var i = 0; i < Group; i++)
        {
            var (_, body, _) = answers[i];
            var trxId = Str(body, "trx_id");
            Assert.Equal(i % 2 == 0 ? "CAPTURED" : "AUTHORIZED", Str(body, "status"));
            Assert.Equal($"grp-{run}-{i}", Str(body, "order_id"));
            // Its own history (authcap: two entries), events, and its key's stored answer: the bytes it was sent.
            Assert.Equal(i % 2 == 0 ? 2 : 1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.history WHERE trx_id = $1", trxId));
            Assert.Equal(i % 2 == 0 ? 2 : 1, await ScalarAsync(gateway,
                "SELECT count(*) FROM transactions.outbox WHERE payload #>> '{transaction,trx_id}' = $1", trxId));
            var replay = await PostAsync(merchant.Http, "/v1/transactions",
                new { operation = i % 2 == 0 ? "authcap" : "authorize", amount = 700 + i, currency = "USD", card_token = token, order_id = $"grp-{run}-{i}" }, keys[i]);
            Assert.Equal("true", Assert.Single(replay.Response.Headers.GetValues("Idempotent-Replayed")));
            Assert.Equal(body!.ToJsonString(), replay.Body!.ToJsonString());
        }
        // The chain of each payment verifies.
        Assert.Equal(0, await ScalarAsync(gateway, """
            SELECT count(*) FROM transactions.history h JOIN transactions.transactions t USING (trx_id)
             WHERE t.order_id LIKE $1 AND (h.seq = 1) <> (h.prev_hash = repeat('0', 64))
            """, $"grp-{run}-%"));
    }

    [Fact]
    public async Task A_refusal_in_a_group_is_that_payments_own_and_the_rest_of_the_group_is_booked()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var run = Guid.NewGuid().ToString("N")[..10];
        await using var stall = await CommitStall.StartAsync(gateway, $"gc_{run}", "INSERT", $"NEW.order_id = 'first-{run}'");

        var first = Authorize(merchant, token, $"first-{run}", null);
        await stall.WaitAsync();
        // Two of the group carry the same external_id: neither is booked yet, so both pass the check before the acquirer.
        var queued = Enumerable.Range(0, Group)
            .Select(i => Authorize(merchant, token, $"ref-{run}-{i}", Guid.NewGuid().ToString(), externalId: i < 2 ? $"ext-{run}" : null))
            .ToList();
        await WaitForQueuedAsync(Group);
        await stall.ReleaseAsync();
        var answers = await Task.WhenAll(queued);

        Assert.Equal(HttpStatusCode.Created, (await first).Status);
        var duplicate = Assert.Single(answers, a => a.Status == HttpStatusCode.Conflict);
        Assert.Equal("duplicate_external_id", Code(duplicate.Body));
        Assert.Equal(Group - 1, answers.Count(a => a.Status == HttpStatusCode.Created));
        Assert.Equal(Group - 1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id LIKE $1", $"ref-{run}-%"));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE external_id = $1", $"ext-{run}"));
        Assert.Equal(Group - 1, await ScalarAsync(gateway, """
            SELECT count(*) FROM transactions.history h JOIN transactions.transactions t USING (trx_id) WHERE t.order_id LIKE $1
            """, $"ref-{run}-%"));
    }

    [Fact]
    public async Task A_payment_its_failed_group_had_booked_is_answered_as_booked_and_booked_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var run = Guid.NewGuid().ToString("N")[..10];
        var data = gateway.HostServices.GetRequiredService<AuthorizeData>();
        var writer = gateway.HostServices.GetRequiredService<PaymentWriter>();
        NewPayment Payment(string order) => new(PrefixedId.New("trx"), merchant.MerchantId, 900, "USD", order, null, null, "tok_group",
            false, true, "123456", null, "visa", "4242");
        // A group whose commit went through though its connection broke, as far as the writer can tell: the same
        // payment comes back to it, already booked, in a group with others.
        var booked = data.Prepare(Payment($"booked-{run}"), null, data.Clock.UtcNowMicros());
        Assert.Equal(booked.Final, (await writer.WriteAsync(booked)).Transaction);
        await using var stall = await CommitStall.StartAsync(gateway, $"gc_{run}", "INSERT", $"NEW.order_id = 'first-{run}'");
        var first = writer.WriteAsync(data.Prepare(Payment($"first-{run}"), null, data.Clock.UtcNowMicros()));
        await stall.WaitAsync();
        var others = Enumerable.Range(0, 3).Select(i => data.Prepare(Payment($"other-{run}-{i}"), null, data.Clock.UtcNowMicros())).ToList();
        var again = writer.WriteAsync(booked);
        var rest = others.Select(writer.WriteAsync).ToList();
        await WaitForQueuedAsync(1 + others.Count);
        await stall.ReleaseAsync();

        Assert.Equal(booked.Final, (await again).Transaction);
        var written = await Task.WhenAll(rest);
        for (var i = 0; i < others.Count; i++)
        {
            Assert.Equal(others[i].Final, written[i].Transaction);
        }
        await first;
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE trx_id = $1", booked.Payment.TrxId));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.history WHERE trx_id = $1", booked.Payment.TrxId));
        Assert.Equal(1, await ScalarAsync(gateway,
            "SELECT count(*) FROM transactions.outbox WHERE payload #>> '{transaction,trx_id}' = $1", booked.Payment.TrxId));
        Assert.Equal(3, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id LIKE $1", $"other-{run}-%"));
    }

    private static Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode? Body, HttpResponseMessage Response)> Authorize(
        MerchantClient merchant, string token, string orderId, string? key, bool capture = false, string? externalId = null) =>
        PostAsync(merchant.Http, "/v1/transactions", new Dictionary<string, object?>
        {
            ["operation"] = capture ? "authcap" : "authorize",
            ["amount"] = 700 + (orderId.Length > 0 && char.IsDigit(orderId[^1]) ? orderId[^1] - '0' : 0),
            ["currency"] = "USD",
            ["card_token"] = token,
            ["order_id"] = orderId,
            ["external_id"] = externalId,
        }.Where(p => p.Value is not null).ToDictionary(), key);

    private Task WaitForQueuedAsync(int count) => CommitStall.WaitForQueuedAsync(gateway.HostServices.GetRequiredService<PaymentWriter>(), count);
}
