using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using Payments.Transactions.Contracts;
using Payments.Transactions.Lifecycle;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Lifecycle;

public sealed class ExpirySettlementTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private T Hosted<T>() => gateway.HostServices.GetServices<IHostedService>().OfType<T>().Single();

    [Fact]
    public async Task The_sandbox_sweep_releases_what_is_past_the_window_and_nothing_else()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var untouched = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        var partial = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        await CaptureOrVoidAsync(merchant, partial, "capture", 300);
        await CaptureOrVoidAsync(merchant, partial, "void", 200);
        var now = gateway.Clock.GetUtcNow();

        var early = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", new { as_of = now.AddDays(6) });
        var due = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", new { as_of = now.AddDays(7).AddMinutes(1) });
        var again = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", new { as_of = now.AddDays(8) });

        Assert.Equal(0, Long(early.Body, "expired"));
        Assert.Equal(2, Long(due.Body, "expired"));
        Assert.Equal(0, Long(again.Body, "expired"));
        var a = (await GetAsync(merchant.Http, $"/v1/transactions/{untouched}")).Body!;
        var b = (await GetAsync(merchant.Http, $"/v1/transactions/{partial}")).Body!;
        Assert.Equal("EXPIRED", Str(a, "status"));
        Assert.Equal(1000, Long(a, "voided_amount"));
        Assert.Equal("CAPTURED", Str(b, "status"));
        Assert.Equal(300, Long(b, "captured_amount"));
        Assert.Equal(700, Long(b, "voided_amount"));
        var expire = a["history"]!.AsArray()[^1]!;
        Assert.Equal("EXPIRE", Str(expire, "operation"));
        Assert.Equal(1000, Long(expire, "amount"));
        var capture = await PostAsync(merchant.Http, $"/v1/transactions/{untouched}", new { operation = "capture" });
        Assert.Equal("invalid_state", Code(capture.Body));
    }

    [Fact]
    public async Task The_sandbox_sweep_takes_as_of_at_any_offset_as_the_same_instant()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token), "trx_id");
        var due = gateway.Clock.GetUtcNow().AddDays(7);
        static string At(DateTimeOffset instant, int hours) =>
            instant.ToOffset(TimeSpan.FromHours(hours)).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffffzzz", System.Globalization.CultureInfo.InvariantCulture);

        // An hour before the window ends, written at +05:00 (its wall clock is past the end) and at +14:00.
        var early = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", $$"""{"as_of":"{{At(due.AddHours(-1), 5)}}"}""");
        var earliest = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", $$"""{"as_of":"{{At(due.AddHours(-1), 14)}}"}""");
        var before = Str((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "status");
        // A minute after it ends, written at -01:00 (its wall clock is before the end).
        var late = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", $$"""{"as_of":"{{At(due.AddMinutes(1), -1)}}"}""");

        Assert.Equal(HttpStatusCode.OK, early.Status);
        Assert.Equal(0, Long(early.Body, "expired"));
        Assert.Equal(HttpStatusCode.OK, earliest.Status);
        Assert.Equal(0, Long(earliest.Body, "expired"));
        Assert.Equal("AUTHORIZED", before);
        Assert.Equal(HttpStatusCode.OK, late.Status);
        Assert.Equal(1, Long(late.Body, "expired"));
        Assert.Equal("EXPIRED", Str((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "status"));
    }

    [Theory]
    [InlineData("\"2099-01-01\"")]
    [InlineData("\"2099-01-01T12:00:00\"")]
    [InlineData("\"2099-01-01 12:00:00Z\"")]
    [InlineData("\"01/01/2099 12:00:00 +00:00\"")]
    [InlineData("\"2099-01-01T12:00:00+25:00\"")]
    [InlineData("\"tomorrow\"")]
    [InlineData("\"\"")]
    [InlineData("null")]
    [InlineData("4102444800")]
    public async Task The_sandbox_sweep_refuses_an_as_of_that_is_not_an_instant_with_an_offset(string asOf)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token), "trx_id");

        var (status, problem, _) = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", $$"""{"as_of":{{asOf}}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("validation_failed", Code(problem));
        Assert.NotNull(problem!["errors"]!["as_of"]);
        Assert.Equal("AUTHORIZED", Str((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "status"));
    }

    [Fact]
    public async Task The_scheduled_sweep_expires_by_the_injected_clock()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token), "trx_id");
        var sweeper = Hosted<ExpirySweeper>();

        await sweeper.RunOnceAsync(CancellationToken.None);
        var before = Str((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "status");
        gateway.Clock.Advance(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));
        try
        {
            await sweeper.RunOnceAsync(CancellationToken.None);
        }
        finally
        {
            gateway.Clock.Advance(-(TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1)));
        }

        Assert.Equal("AUTHORIZED", before);
        Assert.Equal("EXPIRED", Str((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "status"));
    }

    [Fact]
    public async Task A_capture_racing_expiry_either_wins_or_gets_invalid_state()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var ids = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            ids.Add(Str(await AuthorizeAsync(merchant, token, amount: 100), "trx_id"));
        }

        var captures = ids.Select(id => PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation = "capture" })).ToList();
        var sweep = PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", new { as_of = gateway.Clock.GetUtcNow().AddDays(8) });
        var captureAnswers = await Task.WhenAll(captures);
        var sweepAnswer = await sweep;

        var expired = Long(sweepAnswer.Body, "expired");
        var won = 0;
        for (var i = 0; i < ids.Count; i++)
        {
            var (status, body, _) = captureAnswers[i];
            var read = (await GetAsync(merchant.Http, $"/v1/transactions/{ids[i]}")).Body!;
            if (status == HttpStatusCode.OK)
            {
                won++;
                Assert.Equal("CAPTURED", Str(read, "status"));
                Assert.Equal(0, Long(read, "voided_amount"));
            }
            else
            {
                Assert.Equal("invalid_state", Code(body));
                Assert.Equal("EXPIRED", Str(read, "status"));
                Assert.Equal(0, Long(read, "captured_amount"));
            }
        }
        Assert.Equal(ids.Count, won + expired);
    }

    [Fact]
    public async Task Settlement_settles_each_captured_amount_once_and_keeps_remaining_operations_open()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var full = Str(await AuthorizeAsync(merchant, token, amount: 500, operation: "authcap"), "trx_id");
        var partial = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        var open = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        await CaptureOrVoidAsync(merchant, partial, "capture", 400);

        var first = await PostAsync(merchant.Http, "/v1/sandbox/settle", null);
        var second = await PostAsync(merchant.Http, "/v1/sandbox/settle", null);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.StartsWith("stl_", Str(first.Body, "settlement_id"), StringComparison.Ordinal);
        Assert.Equal(2, Long(first.Body, "settled"));
        Assert.Equal(0, Long(second.Body, "settled"));
        var f = (await GetAsync(merchant.Http, $"/v1/transactions/{full}")).Body!;
        var p = (await GetAsync(merchant.Http, $"/v1/transactions/{partial}")).Body!;
        Assert.Equal("SETTLED", Str(f, "status"));
        Assert.Equal(500, Long(f, "settled_amount"));
        Assert.Equal("PARTIAL_SETTLED", Str(p, "status"));
        Assert.Equal(400, Long(p, "settled_amount"));
        Assert.Equal("AUTHORIZED", Str((await GetAsync(merchant.Http, $"/v1/transactions/{open}")).Body, "status"));

        var more = await CaptureOrVoidAsync(merchant, partial, "capture", 100);
        Assert.Equal("PARTIAL_CAPTURED", Str(more, "status"));
        var third = await PostAsync(merchant.Http, "/v1/sandbox/settle", null);
        Assert.Equal(1, Long(third.Body, "settled"));
        var settledAgain = (await GetAsync(merchant.Http, $"/v1/transactions/{partial}")).Body!;
        Assert.Equal(500, Long(settledAgain, "settled_amount"));
        Assert.Equal(100, Long(settledAgain["history"]!.AsArray()[^1], "amount"));
    }

    [Fact]
    public async Task The_daily_run_happens_once_per_day_by_the_injected_clock()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 500, operation: "authcap"), "trx_id");
        var scheduler = Hosted<SettlementScheduler>();
        gateway.Clock.Advance(TimeSpan.FromDays(30));
        (string, int)? first, second;
        try
        {
            first = await scheduler.RunDueAsync(CancellationToken.None);
            second = await scheduler.RunDueAsync(CancellationToken.None);
        }
        finally
        {
            gateway.Clock.Advance(TimeSpan.FromDays(-30));
        }

        Assert.NotNull(first);
        Assert.True(first!.Value.Item2 >= 1);
        Assert.Null(second);
        Assert.Equal("SETTLED", Str((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "status"));
    }

    [Theory]
    [InlineData("4242424242424242")]
    [InlineData("fraud 4242 4242 4242 4242")]
    [InlineData("5555-5555-5555-4444")]
    public async Task A_chargeback_reason_code_holding_a_card_number_is_refused_and_not_echoed(string reasonCode)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000, operation: "authcap"), "trx_id");

        var (status, problem, response) = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = id, amount = 100, reason_code = reasonCode });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("card_data_in_field", Code(problem));
        Assert.NotNull(problem!["errors"]!["reason_code"]);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(reasonCode, text, StringComparison.Ordinal);
        Assert.DoesNotContain(new string([.. reasonCode.Where(char.IsAsciiDigit)]), text, StringComparison.Ordinal);
        var payment = (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body!;
        Assert.Equal(0, Long(payment, "charged_back_amount"));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1", id));
    }

    [Fact]
    public async Task Chargebacks_are_recorded_up_to_what_was_captured_and_flag_over_recovery()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000, operation: "authcap"), "trx_id");

        var first = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = id, amount = 600, reason_code = "fraudulent" });
        var tooMuch = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = id, amount = 401, reason_code = "fraudulent" });
        var rest = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = id, amount = 400, reason_code = "fraudulent" });
        var onChargeback = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = Str(first.Body, "trx_id"), amount = 1, reason_code = "x" });
        var unknown = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = "trx_01J5XCMDXCFXCAQ1BV8HVG6644", amount = 1, reason_code = "x" });

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal("CHARGEBACK", Str(first.Body, "type"));
        Assert.Equal("SETTLED", Str(first.Body, "status"));
        Assert.Equal(600, Long(first.Body, "order_amount"));
        Assert.Equal(id, Str(first.Body, "parent_trx_id"));
        Assert.Null(first.Body!["external_id"]);
        Assert.Equal(0, Long(first.Body, "captured_amount"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooMuch.Status);
        Assert.Equal("amount_exceeds_captured", Code(tooMuch.Body));
        Assert.Equal(HttpStatusCode.Created, rest.Status);
        Assert.Equal(HttpStatusCode.Conflict, onChargeback.Status);
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        var payment = (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body!;
        Assert.Equal(1000, Long(payment, "charged_back_amount"));
        Assert.False(payment["over_recovered"]!.GetValue<bool>());
        var list = await GetAsync(merchant.Http, $"/v1/transactions?start_date={gateway.Clock.GetUtcNow():dd/MM/yyyy}&end_date={gateway.Clock.GetUtcNow().AddDays(1):dd/MM/yyyy}&type=CHARGEBACK");
        Assert.Equal(2, Long(list.Body, "total"));
    }

    [Fact]
    public async Task A_chargeback_over_refunded_money_is_still_recorded_and_flags_the_payment()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000, operation: "authcap"), "trx_id");
        // A refund of the whole capture, recorded through the ledger the Refunds module uses.
        var ledger = gateway.HostServices.GetRequiredService<IRefundLedger>();
        var reserved = await ledger.ReserveRefundAsync(RefundOf(merchant, id), p => p.Refundable, CancellationToken.None);
        Assert.Equal(RefundReservationOutcome.Reserved, reserved.Outcome);
        var refund = await ledger.BookRefundAsync(reserved.Pending!, new RefundDecision(true, null, "A1"), CancellationToken.None);
        Assert.Equal("CAPTURED", refund.Refund.Status);
        Assert.Equal(1000, refund.Payment.RefundedAmount);

        var chargeback = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = id, amount = 1000, reason_code = "fraudulent" });

        Assert.Equal(HttpStatusCode.Created, chargeback.Status);
        var payment = (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body!;
        Assert.True(payment["over_recovered"]!.GetValue<bool>());
        Assert.Equal(1000, Long(payment, "refunded_amount"));
        Assert.Equal(1000, Long(payment, "charged_back_amount"));
        // The database refuses the reservation even when the caller's rules would allow it.
        await Assert.ThrowsAsync<Payments.BuildingBlocks.Http.ProblemException>(() =>
            ledger.ReserveRefundAsync(RefundOf(merchant, id), _ => 1, CancellationToken.None));
    }

    private static RefundReservationRequest RefundOf(MerchantClient merchant, string paymentId)
    {
        var refundId = Payments.BuildingBlocks.Ids.PrefixedId.New("trx");
        return new RefundReservationRequest(merchant.MerchantId, paymentId, refundId, refundId, "customer asked");
    }

    [Fact]
    public async Task The_history_of_a_payment_driven_through_every_state_verifies_and_tampering_is_found()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");                 // AUTHORIZED
        await CaptureOrVoidAsync(merchant, id, "capture", 300);                                         // PARTIAL_CAPTURED
        await PostAsync(merchant.Http, "/v1/sandbox/settle", null);                                     // PARTIAL_SETTLED
        await CaptureOrVoidAsync(merchant, id, "void", 100);                                            // PARTIAL_SETTLED
        await CaptureOrVoidAsync(merchant, id, "capture", 100);                                         // PARTIAL_CAPTURED
        await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations", new { as_of = gateway.Clock.GetUtcNow().AddDays(8) }); // CAPTURED
        await PostAsync(merchant.Http, "/v1/sandbox/settle", null);                                     // SETTLED
        await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = id, amount = 50, reason_code = "fraud" });
        var voided = Str(await AuthorizeAsync(merchant, token), "trx_id");
        await CaptureOrVoidAsync(merchant, voided, "void");                                             // VOIDED

        var trx = (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body!;
        var statuses = trx["history"]!.AsArray().Select(h => Str(h, "status")).ToList();
        var operations = trx["history"]!.AsArray().Select(h => Str(h, "operation")).ToList();
        var verify = (await GetAsync(merchant.Http, $"/v1/transactions/{id}/history/verify")).Body!;

        Assert.Equal(["AUTHORIZED", "PARTIAL_CAPTURED", "PARTIAL_SETTLED", "PARTIAL_SETTLED", "PARTIAL_CAPTURED", "CAPTURED", "SETTLED", "SETTLED"], statuses);
        Assert.Equal(["AUTHORIZE", "CAPTURE", "SETTLE", "VOID", "CAPTURE", "EXPIRE", "SETTLE", "CHARGEBACK"], operations);
        Assert.True(verify["valid"]!.GetValue<bool>());
        Assert.Equal(8, Long(verify, "entries"));
        Assert.Null(verify["first_broken_seq"]);
        Assert.Equal(new string('0', 64), Str(trx["history"]![0], "prev_hash"));
        Assert.Equal(Str(trx["history"]![0], "hash"), Str(trx["history"]![1], "prev_hash"));
        Assert.True((await GetAsync(merchant.Http, $"/v1/transactions/{voided}/history/verify")).Body!["valid"]!.GetValue<bool>());

        // As only the schema's owner could, going around the append-only trigger; other sessions never see it off.
        await ExecAsync(gateway, """
            BEGIN;
            ALTER TABLE transactions.history DISABLE TRIGGER history_append_only;
            UPDATE transactions.history SET amount = 301 WHERE trx_id = $1 AND seq = 2;
            ALTER TABLE transactions.history ENABLE TRIGGER history_append_only;
            COMMIT;
            """.Replace("$1", $"'{id}'", StringComparison.Ordinal));
        var tampered = (await GetAsync(merchant.Http, $"/v1/transactions/{id}/history/verify")).Body!;
        Assert.False(tampered["valid"]!.GetValue<bool>());
        Assert.Equal(2, Long(tampered, "first_broken_seq"));
    }

    [Fact]
    public async Task The_database_refuses_amounts_that_break_the_invariants()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");

        foreach (var sql in new[]
                 {
                     "UPDATE transactions.transactions SET captured_amount = 700, voided_amount = 301 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET captured_amount = 100, settled_amount = 101 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET captured_amount = 100, refunded_amount = 101 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET captured_amount = 100, refunded_amount = 60, charged_back_amount = 41 WHERE trx_id = $1",
                     // Refunds in flight count: reserved with refunded never above captured, and never reserved
                     // beyond what is refundable (captured − refunded − charged back).
                     "UPDATE transactions.transactions SET captured_amount = 100, refund_reserved_amount = 101 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET captured_amount = 100, refunded_amount = 60, refund_reserved_amount = 41 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET captured_amount = 100, charged_back_amount = 60, refund_reserved_amount = 41 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET refund_reserved_amount = -1 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET captured_amount = -1 WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET currency = 'usd' WHERE trx_id = $1",
                     "UPDATE transactions.transactions SET status = 'SETTLED' WHERE trx_id = $1",
                 })
        {
            await Assert.ThrowsAnyAsync<Npgsql.PostgresException>(() => ExecAsync(gateway, sql, id));
        }
        Assert.Equal("AUTHORIZED", Str((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "status"));
    }

    [Fact]
    public async Task The_database_refuses_to_change_or_remove_history_entries()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");

        foreach (var sql in new[]
                 {
                     "UPDATE transactions.history SET amount = 1 WHERE trx_id = $1",
                     "DELETE FROM transactions.history WHERE trx_id = $1",
                     "TRUNCATE transactions.history",
                 })
        {
            object[] args = sql.Contains("$1", StringComparison.Ordinal) ? [id] : [];
            var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => ExecAsync(gateway, sql, args));
            Assert.Equal("42501", refused.SqlState);
        }
        var verify = (await GetAsync(merchant.Http, $"/v1/transactions/{id}/history/verify")).Body!;
        Assert.True(verify["valid"]!.GetValue<bool>());
        Assert.Equal(1, Long(verify, "entries"));
    }
}

public sealed class LiveModeFixture : TransactionsFixture
{
    protected override void ConfigureHost(Dictionary<string, string?> settings)
    {
        base.ConfigureHost(settings);
        settings["Gateway:Mode"] = "Live";
        // Live mode refuses to start without real keys for the secrets it seals.
        settings["Auth:KeyEncryptionKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        settings["Webhooks:SecretKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        settings["Idempotency:SecretKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    }
}

public sealed class LiveModeSandboxTests(LiveModeFixture gateway) : IClassFixture<LiveModeFixture>
{
    [Theory]
    [InlineData("/v1/sandbox/settle", "{}")]
    [InlineData("/v1/sandbox/expire-authorizations", """{"as_of":"2030-01-01T00:00:00Z"}""")]
    [InlineData("/v1/sandbox/chargebacks", """{"trx_id":"trx_01J5XCMDXCFXCAQ1BV8HVG6644","amount":1,"reason_code":"x"}""")]
    public async Task Sandbox_routes_answer_404_in_live_mode(string path, string body)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await PostAsync(merchant.Http, path, body);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", Code(problem));
    }
}
