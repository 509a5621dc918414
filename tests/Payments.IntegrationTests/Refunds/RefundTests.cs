using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Vault.Contracts;
using static Payments.IntegrationTests.Refunds.RefundApi;

namespace Payments.IntegrationTests.Refunds;

[Collection(RefundsCollection.Name)]
public sealed class RefundTests(RefundsFixture gateway)
{
    [Fact]
    public async Task Refund_without_amount_refunds_all_and_is_a_REFUND_transaction_on_every_route()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var payment = await gateway.PaymentAsync(merchant, 1000);
        var paymentId = Str(payment, "trx_id");

        var (status, refund, response) = await RefundAsync(merchant.Http, paymentId, reason: "Customer returned the goods");

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("REFUND", Str(refund, "type"));
        Assert.Equal("CAPTURED", Str(refund, "status"));
        Assert.Equal(1000, Long(refund, "order_amount"));
        Assert.Equal(paymentId, Str(refund, "parent_trx_id"));
        Assert.Equal("USD", Str(refund, "currency"));
        Assert.Equal(Str(payment, "order_id"), Str(refund, "order_id"));
        Assert.Null(refund!["external_id"]);
        Assert.Equal(0, Long(refund, "captured_amount") + Long(refund, "voided_amount") + Long(refund, "refunded_amount"));
        Assert.Equal(Str(payment["card"], "last4"), Str(refund["card"], "last4"));
        Assert.False(string.IsNullOrEmpty(Str(refund, "authorization_code")));
        Assert.Null(refund["decline_code"]);
        var history = refund["history"]!.AsArray();
        Assert.Equal("REFUND", Str(Assert.Single(history), "operation"));
        Assert.NotNull(response.Headers.ETag);

        var refundId = Str(refund, "trx_id");
        var byId = await GetAsync(merchant.Http, $"/v1/transactions/{refundId}");
        Assert.Equal("REFUND", Str(byId, "type"));
        Assert.Equal(paymentId, Str(byId, "parent_trx_id"));

        var paid = await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}");
        Assert.Equal(1000, Long(paid, "refunded_amount"));
        Assert.Equal("CAPTURED", Str(paid, "status"));
        Assert.Equal("REFUND", Str(paid["history"]!.AsArray()[^1], "operation"));

        var today = DateTime.UtcNow;
        var list = await GetAsync(merchant.Http,
            $"/v1/transactions?start_date={today:dd/MM/yyyy}&end_date={today.AddDays(1):dd/MM/yyyy}&type=REFUND");
        var listed = Assert.Single(list["data"]!.AsArray());
        Assert.Equal(refundId, Str(listed, "trx_id"));

        // Lookup answers payments only: the order's payment, not its refund.
        var lookedUp = await GetAsync(merchant.Http, $"/v1/transactions/lookup?id_type=order_id&id={Str(payment, "order_id")}");
        Assert.Equal(paymentId, Str(lookedUp, "trx_id"));

        // The acquirer side is kept too, with the merchant's reason.
        Assert.Equal(1, await gateway.ScalarAsync(
            "SELECT count(*) FROM refunds.refunds WHERE refund_trx_id = $1 AND payment_trx_id = $2 AND booked AND acquirer_answer = 'APPROVED' AND reason = $3",
            refundId, paymentId, "Customer returned the goods"));
    }

    [Fact]
    public async Task Partial_refunds_add_up_and_more_than_refundable_is_rejected()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");

        Assert.Equal(HttpStatusCode.Created, (await RefundAsync(merchant.Http, paymentId, 300)).Status);
        Assert.Equal(HttpStatusCode.Created, (await RefundAsync(merchant.Http, paymentId, 200)).Status);
        var (status, problem, _) = await RefundAsync(merchant.Http, paymentId, 501);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("amount_exceeds_refundable", Code(problem));
        Assert.Equal(500, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));

        var (last, rest, _) = await RefundAsync(merchant.Http, paymentId);
        Assert.Equal(HttpStatusCode.Created, last);
        Assert.Equal(500, Long(rest, "order_amount"));
        var (none, nothing, _) = await RefundAsync(merchant.Http, paymentId);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, none);
        Assert.Equal("amount_exceeds_refundable", Code(nothing));

        Assert.Equal(1000, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1000, await gateway.ScalarAsync(
            "SELECT sum(order_amount) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND' AND decline_code IS NULL",
            paymentId));
    }

    [Fact]
    public async Task Refund_of_a_partially_captured_payment_is_limited_to_the_captured_amount()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000, capture: false), "trx_id");
        var (captured, _, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}", new { operation = "capture", amount = 400 });
        Assert.Equal(HttpStatusCode.OK, captured);

        var (over, problem, _) = await RefundAsync(merchant.Http, paymentId, 401);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, over);
        Assert.Equal("amount_exceeds_refundable", Code(problem));
        var (status, refund, _) = await RefundAsync(merchant.Http, paymentId);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(400, Long(refund, "order_amount"));

        var paid = await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}");
        Assert.Equal("PARTIAL_CAPTURED", Str(paid, "status"));
        Assert.Equal(400, Long(paid, "refunded_amount"));
    }

    [Fact]
    public async Task Refund_of_a_payment_with_nothing_captured_is_invalid_state_before_the_amount_is_judged()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var declined = await gateway.PaymentAsync(merchant, 1000, number: "4000000000000002");
        Assert.Equal("DECLINED", Str(declined, "status"));
        var voided = Str(await gateway.PaymentAsync(merchant, 1000, capture: false), "trx_id");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(merchant.Http, $"/v1/transactions/{voided}", new { operation = "void" })).Status);

        // Expiry of this merchant's authorizations as of a date after the window.
        var expiring = Str(await gateway.PaymentAsync(merchant, 1000, capture: false), "trx_id");
        var (swept, _, _) = await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations",
            new { as_of = DateTimeOffset.UtcNow.AddDays(30).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture) });
        Assert.Equal(HttpStatusCode.OK, swept);
        Assert.Equal("EXPIRED", Str(await GetAsync(merchant.Http, $"/v1/transactions/{expiring}"), "status"));

        foreach (var trxId in new[] { Str(declined, "trx_id"), voided, expiring })
        {
            var (status, problem, _) = await RefundAsync(merchant.Http, trxId, 999_999);
            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.Equal("invalid_state", Code(problem));
            var (noAmount, _, _) = await RefundAsync(merchant.Http, trxId);
            Assert.Equal(HttpStatusCode.Conflict, noAmount);
        }
        Assert.Equal(0, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1 AND type = 'REFUND'", merchant.MerchantId));
    }

    [Fact]
    public async Task Refund_of_an_authorized_only_payment_is_invalid_state()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var authorized = Str(await gateway.PaymentAsync(merchant, 1000, capture: false), "trx_id");

        var (status, problem, _) = await RefundAsync(merchant.Http, authorized, 100);

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("invalid_state", Code(problem));
        Assert.Equal(0, Long(await GetAsync(merchant.Http, $"/v1/transactions/{authorized}"), "refunded_amount"));
    }

    [Fact]
    public async Task Refund_of_a_refund_or_a_chargeback_is_invalid_state()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var refundId = Str((await RefundAsync(merchant.Http, paymentId, 100)).Body, "trx_id");
        var (cb, chargeback, _) = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks",
            new { trx_id = paymentId, amount = 100, reason_code = "4837" });
        Assert.Equal(HttpStatusCode.Created, cb);

        foreach (var child in new[] { refundId, Str(chargeback, "trx_id") })
        {
            var (status, problem, _) = await RefundAsync(merchant.Http, child, 10);
            Assert.Equal(HttpStatusCode.Conflict, status);
            Assert.Equal("invalid_state", Code(problem));
        }
        var paid = await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}");
        Assert.Equal(100, Long(paid, "refunded_amount"));
        // captured − refunded − charged back is what is left.
        var (over, overProblem, _) = await RefundAsync(merchant.Http, paymentId, 801);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, over);
        Assert.Equal("amount_exceeds_refundable", Code(overProblem));
        var (rest, restRefund, _) = await RefundAsync(merchant.Http, paymentId);
        Assert.Equal(HttpStatusCode.Created, rest);
        Assert.Equal(800, Long(restRefund, "order_amount"));
    }

    [Fact]
    public async Task Another_merchants_or_an_unknown_payment_is_not_found()
    {
        var owner = await gateway.CreateMerchantClientAsync();
        var other = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(owner, 1000), "trx_id");

        foreach (var trxId in new[] { paymentId, "trx_01J5XCMDXCFXCAQ1BV8HVG6644", "not-an-id" })
        {
            var (status, problem, _) = await RefundAsync(other.Http, trxId, 100);
            Assert.Equal(HttpStatusCode.NotFound, status);
            Assert.Equal("not_found", Code(problem));
        }
        Assert.Equal(0, Long(await GetAsync(owner.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
    }

    [Fact]
    public async Task Refund_after_settlement_is_accepted_and_settled_by_the_next_run()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(merchant.Http, "/v1/sandbox/settle", null)).Status);
        Assert.Equal("SETTLED", Str(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "status"));

        var (status, refund, _) = await RefundAsync(merchant.Http, paymentId, 300);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("CAPTURED", Str(refund, "status"));
        var refundId = Str(refund, "trx_id");

        var (settleStatus, settlement, _) = await PostAsync(merchant.Http, "/v1/sandbox/settle", null);
        Assert.Equal(HttpStatusCode.OK, settleStatus);
        Assert.Equal(1, Long(settlement, "settled"));
        var settled = await GetAsync(merchant.Http, $"/v1/transactions/{refundId}");
        Assert.Equal("SETTLED", Str(settled, "status"));
        Assert.Equal(300, Long(settled, "settled_amount"));
        Assert.Equal("SETTLE", Str(settled["history"]!.AsArray()[^1], "operation"));

        var paid = await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}");
        Assert.Equal("SETTLED", Str(paid, "status"));
        Assert.Equal(300, Long(paid, "refunded_amount"));
        // Settled once: a further run has nothing of this merchant to settle.
        Assert.Equal(0, Long((await PostAsync(merchant.Http, "/v1/sandbox/settle", null)).Body, "settled"));
    }

    [Fact]
    public async Task If_Match_with_a_stale_ETag_is_refused_and_refunds_nothing()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var (_, _, read) = await SendAsync(merchant.Http, HttpMethod.Get, $"/v1/transactions/{paymentId}");
        var etag = read.Headers.ETag!.ToString();

        Assert.Equal(HttpStatusCode.Created, (await RefundAsync(merchant.Http, paymentId, 100, ifMatch: etag)).Status);
        var (stale, problem, _) = await RefundAsync(merchant.Http, paymentId, 100, ifMatch: etag);
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale);
        Assert.Equal("precondition_failed", Code(problem));
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await RefundAsync(merchant.Http, paymentId, 100, ifMatch: "\"nope\"")).Status);

        var (_, paid, now) = await SendAsync(merchant.Http, HttpMethod.Get, $"/v1/transactions/{paymentId}");
        Assert.Equal(100, Long(paid, "refunded_amount"));
        Assert.Equal(HttpStatusCode.Created,
            (await RefundAsync(merchant.Http, paymentId, 100, ifMatch: now.Headers.ETag!.ToString())).Status);
    }

    [Fact]
    public async Task If_Match_with_a_list_of_ETags_applies_when_one_is_current_and_never_by_a_weak_one()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var (_, _, read) = await SendAsync(merchant.Http, HttpMethod.Get, $"/v1/transactions/{paymentId}");
        var etag = read.Headers.ETag!.ToString();

        var (listed, body, _) = await RefundAsync(merchant.Http, paymentId, 100, ifMatch: $"\"999\", {etag}");
        Assert.True(listed == HttpStatusCode.Created, $"If-Match \"999\", {etag} answered {(int)listed}: {body}");

        var (_, _, now) = await SendAsync(merchant.Http, HttpMethod.Get, $"/v1/transactions/{paymentId}");
        var (weak, problem, _) = await RefundAsync(merchant.Http, paymentId, 100, ifMatch: $"{etag}, W/{now.Headers.ETag}");
        Assert.Equal(HttpStatusCode.PreconditionFailed, weak);
        Assert.Equal("precondition_failed", Code(problem));
        Assert.Equal(100, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
    }

    [Fact]
    public async Task Replays_with_the_same_Idempotency_Key_answer_the_same_and_refund_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var key = "refund-" + Guid.NewGuid().ToString("N");

        var (first, firstBody, firstResponse) = await RefundAsync(merchant.Http, paymentId, 250, "damaged", idempotencyKey: key);
        var (again, againBody, againResponse) = await RefundAsync(merchant.Http, paymentId, 250, "damaged", idempotencyKey: key);

        Assert.Equal(HttpStatusCode.Created, first);
        Assert.Equal(HttpStatusCode.Created, again);
        Assert.False(firstResponse.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", Assert.Single(againResponse.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(firstBody!.ToJsonString(), againBody!.ToJsonString());
        Assert.Equal(firstResponse.Headers.ETag, againResponse.Headers.ETag);
        Assert.Equal(250, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND'", paymentId));

        var (reused, problem, _) = await RefundAsync(merchant.Http, paymentId, 251, "damaged", idempotencyKey: key);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused);
        Assert.Equal("idempotency_key_reused", Code(problem));

        // A refusal is a final answer too: replayed, even once the amount would fit.
        var refusalKey = "refund-" + Guid.NewGuid().ToString("N");
        var (refused, refusedBody, _) = await RefundAsync(merchant.Http, paymentId, 900, idempotencyKey: refusalKey);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        var (replayed, replayedBody, replayedResponse) = await RefundAsync(merchant.Http, paymentId, 900, idempotencyKey: refusalKey);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, replayed);
        Assert.Equal("true", Assert.Single(replayedResponse.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(Code(refusedBody), Code(replayedBody));
        Assert.Equal(250, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
    }

    [Fact]
    public async Task A_retry_after_the_ledger_failed_to_book_an_acquirer_refund_books_that_refund_not_a_second_one()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var key = "refund-" + Guid.NewGuid().ToString("N");
        await using (await FailRefundBookingAsync(paymentId))
        {
            var (failed, _, _) = await RefundAsync(merchant.Http, paymentId, 300, idempotencyKey: key);
            Assert.True((int)failed >= 500, $"the failed booking answered {(int)failed}");
        }

        var (retried, body, _) = await RefundAsync(merchant.Http, paymentId, 300, idempotencyKey: key);

        Assert.Equal(HttpStatusCode.Created, retried);
        Assert.Equal(300, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        // The acquirer refunded once: the retry booked the first answer (same code), kept beside the unbooked try.
        Assert.Equal(1, await gateway.ScalarAsync(
            "SELECT count(DISTINCT acquirer_code) FROM refunds.refunds WHERE payment_trx_id = $1 AND acquirer_answer = 'APPROVED'", paymentId));
        Assert.Equal(Str(body, "authorization_code"), await gateway.VaultScalarAsync(
            "SELECT authorization_code FROM vault.acquirer_attempts WHERE merchant_id = $1 AND action = 'card.refund'", merchant.MerchantId));
    }

    [Fact]
    public async Task A_retry_books_the_acquirer_refund_of_the_first_try_even_after_the_card_was_deleted()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeAsync(merchant);
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000, token: token), "trx_id");
        var key = "refund-" + Guid.NewGuid().ToString("N");
        await using (await FailRefundBookingAsync(paymentId))
        {
            var (failed, _, _) = await RefundAsync(merchant.Http, paymentId, 400, idempotencyKey: key);
            Assert.True((int)failed >= 500, $"the failed booking answered {(int)failed}");
        }
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(merchant.Http, HttpMethod.Delete, $"/v1/card-tokens/{token}")).Status);

        var (retried, body, _) = await RefundAsync(merchant.Http, paymentId, 400, idempotencyKey: key);
        var (fresh, _, _) = await RefundAsync(merchant.Http, paymentId, 100);

        Assert.Equal(HttpStatusCode.Created, retried);
        Assert.Null(body!["decline_code"]);
        Assert.Equal(400, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        // A new refund, though, has no card to go to.
        Assert.Equal(HttpStatusCode.Created, fresh);
        Assert.Equal(400, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal("card.refund,card.refund.repeated", await gateway.VaultScalarAsync(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.refund%'", token));
    }

    [Fact]
    public async Task A_full_refund_the_acquirer_made_but_the_ledger_did_not_book_holds_its_amount_until_its_retry_books_it()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var key = "refund-" + Guid.NewGuid().ToString("N");
        await using (await FailRefundBookingAsync(paymentId))
        {
            var (failed, _, _) = await RefundAsync(merchant.Http, paymentId, idempotencyKey: key);
            Assert.True((int)failed >= 500, $"the failed booking answered {(int)failed}");
        }
        // The first try refunded 1000 at the acquirer: nothing else may be refunded meanwhile (this Host waits only
        // briefly for the refund in flight before counting it as made).
        await using (var impatient = gateway.CreateAnotherHost(new Dictionary<string, string?>
                     {
                         ["Transactions:ScheduledSettlement"] = "false", ["Refunds:InFlightWait"] = "00:00:00.2",
                     }))
        {
            using var http = impatient.CreateClientFor(merchant, expectRefusals: true);
            var (meanwhile, problem, _) = await RefundAsync(http, paymentId, 100);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, meanwhile);
            Assert.Equal("amount_exceeds_refundable", Code(problem));
        }
        Assert.Equal(0, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));

        var (retried, body, _) = await RefundAsync(merchant.Http, paymentId, idempotencyKey: key);

        // The retry resumes the reservation (the amount judged by the first try) and books the acquirer's first answer.
        Assert.Equal(HttpStatusCode.Created, retried);
        Assert.Equal(1000, Long(body, "order_amount"));
        Assert.Equal(1000, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND'", paymentId));
        Assert.Equal(0, await gateway.ScalarAsync(
            "SELECT refund_reserved_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
        Assert.Equal("card.refund,card.refund.repeated", await gateway.VaultScalarAsync(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE merchant_id = $1 AND action LIKE 'card.refund%'",
            merchant.MerchantId));
    }

    /// <summary>Makes booking a refund of the payment fail, as a lost database would, until disposed.</summary>
    private Task<IAsyncDisposable> FailRefundBookingAsync(string paymentId) =>
        gateway.FailTransactionInsertsAsync($"NEW.type = 'REFUND' AND NEW.parent_trx_id = '{paymentId}'");

    [Fact]
    public async Task Card_data_in_the_reason_is_refused_without_echoing_it()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");

        var (status, problem, _) = await RefundAsync(merchant.Http, paymentId, 100, "refund to card 4242 4242 4242 4242 please");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("card_data_in_field", Code(problem));
        Assert.NotNull(problem!["errors"]!["reason"]);
        Assert.DoesNotContain("4242", problem.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(0, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(0, await gateway.ScalarAsync("SELECT count(*) FROM refunds.refunds WHERE payment_trx_id = $1", paymentId));
    }

    [Theory]
    [InlineData("""{"amount":0}""")]
    [InlineData("""{"amount":-5}""")]
    [InlineData("""{"amount":1000000000000}""")]
    [InlineData("""{"amount":"100"}""")]
    [InlineData("""{"amount":10.5}""")]
    [InlineData("""{"amount":100,"currency":"USD"}""")]
    [InlineData("not json")]
    public async Task Malformed_refund_requests_are_400_and_change_nothing(string body)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");

        var (status, problem, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(string.IsNullOrEmpty(Code(problem)));
        Assert.Equal(0, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
    }

    [Fact]
    public async Task A_reason_over_1000_characters_is_400()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");

        var (tooLong, problem, _) = await RefundAsync(merchant.Http, paymentId, 100, new string('r', 1001));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong);
        Assert.Equal("validation_failed", Code(problem));
        Assert.Equal(HttpStatusCode.Created, (await RefundAsync(merchant.Http, paymentId, 100, new string('r', 1000))).Status);
    }

    [Fact]
    public async Task A_refund_the_acquirer_cannot_make_is_recorded_DECLINED_and_refunds_nothing()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeAsync(merchant);
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000, token: token), "trx_id");
        // The card data is destroyed in the Vault: the acquirer cannot be asked to pay it back.
        Assert.True(await gateway.HostServices.GetRequiredService<IVaultClient>().DeleteCardAsync(merchant.MerchantId, token, CancellationToken.None));

        var (status, refund, _) = await RefundAsync(merchant.Http, paymentId, 400);

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("DECLINED", Str(refund, "status"));
        Assert.Equal("card_unavailable", Str(refund, "decline_code"));
        Assert.Equal(400, Long(refund, "order_amount"));
        Assert.Equal(paymentId, Str(refund, "parent_trx_id"));
        Assert.Equal(0, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1, await gateway.ScalarAsync(
            "SELECT count(*) FROM refunds.refunds WHERE refund_trx_id = $1 AND acquirer_answer = 'DECLINED' AND booked", Str(refund, "trx_id")));

        // A declined refund is never settled.
        await PostAsync(merchant.Http, "/v1/sandbox/settle", null);
        Assert.Equal("DECLINED", Str(await GetAsync(merchant.Http, $"/v1/transactions/{Str(refund, "trx_id")}"), "status"));
    }
}
