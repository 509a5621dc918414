using System.Net;
using Payments.TestKit;
using static Payments.IntegrationTests.Refunds.RefundApi;

namespace Payments.IntegrationTests.Refunds;

/// <summary>
/// <c>refunded + charged back &lt;= captured</c> under any concurrency, held by the database: concurrent partial refunds of
/// one payment, on one Host and on two Hosts sharing the database and Redis, succeed exactly as far as the money goes.
/// </summary>
[Collection(RefundsCollection.Name)]
public sealed class RefundConcurrencyTests(RefundsFixture gateway)
{
    private const int Requests = 200;
    private const long Captured = 10_000;
    private const long Each = 70;
    private const long Allowed = Captured / Each; // 142: the 143rd would take 10,010

    [Fact]
    public async Task Two_hundred_concurrent_partial_refunds_succeed_exactly_as_far_as_the_captured_amount()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, Captured), "trx_id");

        var statuses = await Task.WhenAll(Enumerable.Range(0, Requests).Select(_ => RefundStatusAsync(merchant.Http, paymentId)));

        await AssertExactlyAllowedAsync(merchant, paymentId, statuses);
    }

    [Fact]
    public async Task Two_hundred_concurrent_partial_refunds_on_two_Hosts_succeed_exactly_as_far_as_the_captured_amount()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, Captured), "trx_id");
        await using var second = gateway.AnotherHost();
        using var secondHttp = second.CreateClientFor(merchant);

        var statuses = await Task.WhenAll(Enumerable.Range(0, Requests)
            .Select(i => RefundStatusAsync(i % 2 == 0 ? merchant.Http : secondHttp, paymentId)));

        await AssertExactlyAllowedAsync(merchant, paymentId, statuses);
    }

    [Fact]
    public async Task Concurrent_replays_of_one_Idempotency_Key_on_two_Hosts_refund_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, Captured), "trx_id");
        await using var second = gateway.AnotherHost();
        using var secondHttp = second.CreateClientFor(merchant);
        var key = "refund-" + Guid.NewGuid().ToString("N");

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
            (await RefundAsync(i % 2 == 0 ? merchant.Http : secondHttp, paymentId, 500, idempotencyKey: key)).Status));

        // Each answer is the first one's (201) or "still running" (409); never a second refund.
        Assert.All(answers, s => Assert.True(s is HttpStatusCode.Created or HttpStatusCode.Conflict, $"answered {(int)s}"));
        Assert.Contains(HttpStatusCode.Created, answers);
        Assert.Equal(500, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND'", paymentId));
    }

    private static async Task<HttpStatusCode> RefundStatusAsync(HttpClient http, string paymentId)
    {
        var (status, problem, _) = await RefundAsync(http, paymentId, Each);
        if (status == HttpStatusCode.UnprocessableEntity)
        {
            Assert.Equal("amount_exceeds_refundable", Code(problem));
        }
        return status;
    }

    private async Task AssertExactlyAllowedAsync(MerchantClient merchant, string paymentId, HttpStatusCode[] statuses)
    {
        var unexpected = statuses.Where(s => s is not (HttpStatusCode.Created or HttpStatusCode.UnprocessableEntity)).ToList();
        Assert.True(unexpected.Count == 0, "unexpected answers: " + string.Join(", ", unexpected.Select(s => (int)s)));
        Assert.Equal(Allowed, statuses.Count(s => s == HttpStatusCode.Created));
        Assert.Equal(Requests - Allowed, statuses.Count(s => s == HttpStatusCode.UnprocessableEntity));

        var payment = await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}");
        Assert.Equal(Allowed * Each, Long(payment, "refunded_amount"));
        Assert.Equal(Allowed * Each, await gateway.ScalarAsync("SELECT refunded_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
        Assert.Equal(Allowed, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND' AND decline_code IS NULL", paymentId));
        Assert.Equal(Allowed * Each, await gateway.ScalarAsync(
            "SELECT sum(order_amount) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND'", paymentId));
        // One REFUND history entry on the payment per refund, and one booked acquirer record each.
        Assert.Equal(Allowed, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.history WHERE trx_id = $1 AND operation = 'REFUND'", paymentId));
        Assert.Equal(Allowed, await gateway.ScalarAsync(
            "SELECT count(*) FROM refunds.refunds WHERE payment_trx_id = $1 AND booked AND acquirer_answer = 'APPROVED'", paymentId));
        var verify = await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}/history/verify");
        Assert.True(verify["valid"]!.GetValue<bool>());
    }
}
