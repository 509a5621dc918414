using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.TestKit;
using Payments.Transactions.Features.CaptureVoid;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// Captures and voids in groups (docs/adr/0036). A first capture is made to stall inside its commit, so the changes
/// after it queue and are written as one group when it is released (<see cref="CommitStall"/>).
/// </summary>
public sealed class CaptureGroupCommitTests(GroupCommitFixture gateway) : IClassFixture<GroupCommitFixture>
{
    [Fact]
    public async Task Captures_and_voids_queued_behind_a_commit_are_written_in_one_transaction_each_with_its_entry_event_and_answer()
    {
        var (merchant, payments) = await AuthorizedAsync(5);
        await using var stall = await StallFirstCaptureAsync(payments[0]);
        var first = PostAsync(merchant.Http, $"/v1/transactions/{payments[0]}", new { operation = "capture" });
        await stall.WaitAsync();
        object[] bodies =
        [
            new { operation = "capture" }, new { operation = "capture", amount = 300 }, new { operation = "void" },
            new { operation = "void", amount = 200 },
        ];
        var keys = bodies.Select(_ => Guid.NewGuid().ToString()).ToList();
        var queued = bodies.Select((b, i) => PostAsync(merchant.Http, $"/v1/transactions/{payments[i + 1]}", b, keys[i])).ToList();
        await CommitStall.WaitForQueuedAsync(Writer, bodies.Length);
        await stall.ReleaseAsync();
        var answers = await Task.WhenAll(queued);

        Assert.Equal(HttpStatusCode.OK, (await first).Status);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        (string Status, long Captured, long Voided)[] expected =
            [("CAPTURED", 1000, 0), ("PARTIAL_CAPTURED", 300, 0), ("VOIDED", 0, 1000), ("AUTHORIZED", 0, 200)];
        for (var i = 0; i < expected.Length; i++)
        {
            var body = answers[i].Body;
            Assert.Equal(expected[i], (Str(body, "status"), Long(body, "captured_amount"), Long(body, "voided_amount")));
            Assert.Equal($"\"2\"", answers[i].Response.Headers.ETag?.Tag);
            // Its entry chains to the authorization's, its event is out, its answer is stored: a replay is the same bytes.
            var history = body!["history"]!.AsArray();
            Assert.Equal(2, history.Count);
            Assert.Equal(Str(history[0], "hash"), Str(history[1], "prev_hash"));
            Assert.Equal(2, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.history WHERE trx_id = $1", payments[i + 1]));
            Assert.Equal(1, await ScalarAsync(gateway, """
                SELECT count(*) FROM transactions.history a JOIN transactions.history b ON b.trx_id = a.trx_id AND b.seq = 2
                 WHERE a.trx_id = $1 AND a.seq = 1 AND b.prev_hash = a.hash
                """, payments[i + 1]));
            Assert.Equal(1, await ScalarAsync(gateway, """
                SELECT count(*) FROM transactions.outbox WHERE payload #>> '{transaction,trx_id}' = $1 AND type = $2
                """, payments[i + 1], i < 2 ? "transaction.captured" : "transaction.voided"));
            var replay = await PostAsync(merchant.Http, $"/v1/transactions/{payments[i + 1]}", bodies[i], keys[i]);
            Assert.Equal("true", Assert.Single(replay.Response.Headers.GetValues("Idempotent-Replayed")));
            Assert.Equal(body.ToJsonString(), replay.Body!.ToJsonString());
        }
        Assert.Equal(1, await ScalarAsync(gateway,
            "SELECT count(DISTINCT xmin::text) FROM transactions.transactions WHERE trx_id = ANY($1)", new object[] { payments.Skip(1).ToArray() }));
    }

    [Fact]
    public async Task In_a_group_a_second_change_of_a_payment_an_if_match_and_refusals_get_the_answers_they_would_get_alone()
    {
        var (merchant, payments) = await AuthorizedAsync(5);
        var (stalled, twice, matched, voided, over) = (payments[0], payments[1], payments[2], payments[3], payments[4]);
        await CaptureOrVoidAsync(merchant, voided, "void");
        await using var stall = await StallFirstCaptureAsync(stalled);
        var first = PostAsync(merchant.Http, $"/v1/transactions/{stalled}", new { operation = "capture" });
        await stall.WaitAsync();

        var once = PostAsync(merchant.Http, $"/v1/transactions/{twice}", new { operation = "capture", amount = 600 }, Guid.NewGuid().ToString());
        await CommitStall.WaitForQueuedAsync(Writer, 1);
        var again = PostAsync(merchant.Http, $"/v1/transactions/{twice}", new { operation = "capture", amount = 600 }, Guid.NewGuid().ToString());
        var ifMatch = SendAsync(merchant.Http, HttpMethod.Post, $"/v1/transactions/{matched}", new { operation = "capture", amount = 100 },
            ifMatch: "\"1\"");
        var stale = SendAsync(merchant.Http, HttpMethod.Post, $"/v1/transactions/{over}", new { operation = "capture", amount = 100 },
            ifMatch: "\"7\"");
        var refusedState = PostAsync(merchant.Http, $"/v1/transactions/{voided}", new { operation = "capture" });
        var refusedAmount = PostAsync(merchant.Http, $"/v1/transactions/{over}", new { operation = "capture", amount = 1001 });
        await CommitStall.WaitForQueuedAsync(Writer, 6);
        await stall.ReleaseAsync();

        Assert.Equal(HttpStatusCode.OK, (await first).Status);
        var (o, a) = (await once, await again);
        Assert.Equal(HttpStatusCode.OK, o.Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, a.Status);
        Assert.Equal("amount_exceeds_remaining", Code(a.Body));
        Assert.Equal(HttpStatusCode.OK, (await ifMatch).Status);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await stale).Status);
        var state = await refusedState;
        Assert.Equal((HttpStatusCode.Conflict, "invalid_state"), (state.Status, Code(state.Body)));
        var amount = await refusedAmount;
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "amount_exceeds_remaining"), (amount.Status, Code(amount.Body)));
        Assert.Equal(600, await ScalarAsync(gateway, "SELECT captured_amount FROM transactions.transactions WHERE trx_id = $1", twice));
        Assert.Equal(2, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.history WHERE trx_id = $1", twice));
        Assert.Equal(100, await ScalarAsync(gateway, "SELECT captured_amount FROM transactions.transactions WHERE trx_id = $1", matched));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT captured_amount + voided_amount FROM transactions.transactions WHERE trx_id = $1", over));
    }

    [Fact]
    public async Task Several_changes_of_one_payment_queued_behind_a_commit_are_applied_in_their_order_in_one_transaction()
    {
        // A burst on one payment: before rounds (docs/adr/0036), each change after the first was written alone, one
        // commit each, and a burst of 50 outlasted the admission queue's wait (503 overloaded).
        var (merchant, payments) = await AuthorizedAsync(2);
        var (stalled, burst) = (payments[0], payments[1]);
        await using var stall = await StallFirstCaptureAsync(stalled);
        var first = PostAsync(merchant.Http, $"/v1/transactions/{stalled}", new { operation = "capture" });
        await stall.WaitAsync();
        object[] bodies =
        [
            new { operation = "capture", amount = 100 }, new { operation = "capture", amount = 200 },
            new { operation = "void", amount = 300 }, new { operation = "capture", amount = 500 },
            new { operation = "capture", amount = 50 },
        ];
        var queued = new List<Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)>>();
        for (var i = 0; i < bodies.Length; i++)
        {
            queued.Add(PostAsync(merchant.Http, $"/v1/transactions/{burst}", bodies[i], Guid.NewGuid().ToString()));
            await CommitStall.WaitForQueuedAsync(Writer, i + 1); // so they queue in this order
        }
        await stall.ReleaseAsync();
        var answers = await Task.WhenAll(queued);

        Assert.Equal(HttpStatusCode.OK, (await first).Status);
        // Each as it would have been alone, one after another: the fourth asks more than the 400 then remaining.
        (long Captured, long Voided, string ETag)[] expected = [(100, 0, "\"2\""), (300, 0, "\"3\""), (300, 300, "\"4\"")];
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, answers[i].Status);
            Assert.Equal(expected[i], (Long(answers[i].Body, "captured_amount"), Long(answers[i].Body, "voided_amount"),
                answers[i].Response.Headers.ETag?.Tag));
            Assert.Equal(i + 2, answers[i].Body!["history"]!.AsArray().Count);
        }
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "amount_exceeds_remaining"), (answers[3].Status, Code(answers[3].Body)));
        Assert.Equal((HttpStatusCode.OK, 350L, "PARTIAL_CAPTURED"),
            (answers[4].Status, Long(answers[4].Body, "captured_amount"), Str(answers[4].Body, "status")));
        Assert.Equal("\"5\"", answers[4].Response.Headers.ETag?.Tag);
        var verify = (await GetAsync(merchant.Http, $"/v1/transactions/{burst}/history/verify")).Body!;
        Assert.Equal((true, 5), (verify["valid"]!.GetValue<bool>(), verify["entries"]!.GetValue<int>()));
        Assert.Equal(4, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.outbox WHERE payload #>> '{transaction,trx_id}' = $1 AND type <> 'transaction.authorized'", burst));
        // The four changes in one commit.
        Assert.Equal(1, await ScalarAsync(gateway,
            "SELECT count(DISTINCT xmin::text) FROM transactions.history WHERE trx_id = $1 AND seq > 1", burst));
    }

    [Fact]
    public async Task A_group_whose_session_ends_before_its_commit_wrote_nothing_and_each_change_is_then_written_once()
    {
        var (merchant, payments) = await AuthorizedAsync(4);
        await using var stall = await StallFirstCaptureAsync(payments[0]);
        // The group's second round trip (its entries, events, answers and COMMIT) waits at the first entry's insert.
        await using var commitStall = await CommitStall.StartAsync(gateway, "gcc_" + payments[1], "INSERT",
            $"NEW.trx_id = '{payments[1]}' AND NEW.seq = 2", "transactions.history");
        var first = PostAsync(merchant.Http, $"/v1/transactions/{payments[0]}", new { operation = "capture" });
        await stall.WaitAsync();
        var queued = payments.Skip(1).Select(p => PostAsync(merchant.Http, $"/v1/transactions/{p}",
            new { operation = "capture", amount = 250 }, Guid.NewGuid().ToString())).ToList();
        await CommitStall.WaitForQueuedAsync(Writer, 3);
        await stall.ReleaseAsync();
        await commitStall.WaitAsync();
        // The server ends the group's session while its commit is still to come.
        Assert.Equal(1, await ScalarAsync(gateway, """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(l.pid)) FROM pg_locks l
             WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = ($1::bigint & 4294967295)::oid
            """, commitStall.Gate));
        var answers = await Task.WhenAll(queued);

        Assert.Equal(HttpStatusCode.OK, (await first).Status);
        Assert.All(answers, a => Assert.Equal((HttpStatusCode.OK, 250L), (a.Status, Long(a.Body, "captured_amount"))));
        Assert.Equal(3, await ScalarAsync(gateway,
            "SELECT count(*) FROM transactions.transactions WHERE trx_id = ANY($1) AND captured_amount = 250", new object[] { payments.Skip(1).ToArray() }));
        Assert.Equal(6, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.history WHERE trx_id = ANY($1)", new object[] { payments.Skip(1).ToArray() }));
    }

    [Fact]
    public async Task The_outcome_of_a_group_whose_connection_broke_is_read_from_postgresql_committed_aborted_or_after_it_ends()
    {
        var data = gateway.HostServices.GetRequiredService<CaptureVoidData>();
        var lost = new NpgsqlException("lost");
        await using var conn = new NpgsqlConnection(gateway.HostConnectionString);
        await conn.OpenAsync();

        async Task<string> BeginAsync()
        {
            await using var cmd = new NpgsqlCommand("BEGIN; SELECT pg_current_xact_id()::text", conn);
            return (string)(await cmd.ExecuteScalarAsync())!;
        }
        async Task EndAsync(string how)
        {
            await using var cmd = new NpgsqlCommand(how, conn);
            await cmd.ExecuteNonQueryAsync();
        }

        var committed = await BeginAsync();
        await EndAsync("COMMIT");
        Assert.True(await data.CommittedAsync(committed, lost));
        var aborted = await BeginAsync();
        await EndAsync("ROLLBACK");
        Assert.False(await data.CommittedAsync(aborted, lost));
        // Still running when asked: the answer waits for its end.
        var running = await BeginAsync();
        var asked = data.CommittedAsync(running, lost);
        await Task.Delay(500);
        Assert.False(asked.IsCompleted);
        await EndAsync("COMMIT");
        Assert.True(await asked);
    }

    private CaptureWriter Writer => gateway.HostServices.GetRequiredService<CaptureWriter>();

    /// <summary>A new merchant and <paramref name="count"/> payments of 1000 it authorized.</summary>
    private async Task<(MerchantClient Merchant, List<string> Payments)> AuthorizedAsync(int count)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var payments = new List<string>();
        for (var i = 0; i < count; i++)
        {
            payments.Add(Str(await AuthorizeAsync(merchant, token, 1000), "trx_id"));
        }
        return (merchant, payments);
    }

    private Task<CommitStall> StallFirstCaptureAsync(string trxId) =>
        CommitStall.StartAsync(gateway, "gcc_" + trxId, "UPDATE", $"NEW.trx_id = '{trxId}'");
}
