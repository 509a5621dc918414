using System.Net;
using System.Text.Json.Nodes;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Lifecycle;

public sealed class CaptureVoidTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    /// <summary>A payment of 1000 driven into <paramref name="status"/>.</summary>
    private async Task<(MerchantClient Merchant, string TrxId)> PaymentInAsync(string status)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant, status == "DECLINED" ? "4000000000000002" : "4242424242424242");
        var trx = await AuthorizeAsync(merchant, token, amount: 1000, operation: status == "CAPTURED" ? "authcap" : "authorize");
        var id = Str(trx, "trx_id");
        switch (status)
        {
            case "VOIDED":
                await CaptureOrVoidAsync(merchant, id, "void");
                break;
            case "PARTIAL_CAPTURED":
                await CaptureOrVoidAsync(merchant, id, "capture", 400);
                break;
            case "PARTIAL_SETTLED":
                await CaptureOrVoidAsync(merchant, id, "capture", 400);
                await PostAsync(merchant.Http, "/v1/sandbox/settle", null);
                break;
            case "SETTLED":
                await CaptureOrVoidAsync(merchant, id, "capture");
                await PostAsync(merchant.Http, "/v1/sandbox/settle", null);
                break;
            case "EXPIRED":
                await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations",
                    new { as_of = gateway.Clock.GetUtcNow().AddDays(8) });
                break;
        }
        var read = await GetAsync(merchant.Http, $"/v1/transactions/{id}");
        Assert.Equal(status, Str(read.Body, "status"));
        return (merchant, id);
    }

    public static TheoryData<string, string, string, long, long> Allowed => new()
    {
        // status, operation, resulting status, captured, voided (of an order of 1000; 400 captured before where partial)
        { "AUTHORIZED", "capture", "PARTIAL_CAPTURED", 300, 0 },
        { "AUTHORIZED", "void", "AUTHORIZED", 0, 300 },
        { "PARTIAL_CAPTURED", "capture", "PARTIAL_CAPTURED", 700, 0 },
        { "PARTIAL_CAPTURED", "void", "PARTIAL_CAPTURED", 400, 300 },
        { "PARTIAL_SETTLED", "capture", "PARTIAL_CAPTURED", 700, 0 },
        { "PARTIAL_SETTLED", "void", "PARTIAL_SETTLED", 400, 300 },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public async Task An_allowed_operation_moves_exactly_its_amount(string status, string operation, string expected, long captured, long voided)
    {
        var (merchant, id) = await PaymentInAsync(status);
        var after = await CaptureOrVoidAsync(merchant, id, operation, 300);

        Assert.Equal(expected, Str(after, "status"));
        Assert.Equal(captured, Long(after, "captured_amount"));
        Assert.Equal(voided, Long(after, "voided_amount"));
        Assert.Equal(1000, Long(after, "order_amount"));
        Assert.Equal(operation.ToUpperInvariant(), after["history"]!.AsArray()[^1]!["operation"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("AUTHORIZED", "capture", "CAPTURED")]
    [InlineData("AUTHORIZED", "void", "VOIDED")]
    [InlineData("PARTIAL_CAPTURED", "capture", "CAPTURED")]
    [InlineData("PARTIAL_SETTLED", "void", "SETTLED")]
    public async Task Without_an_amount_the_whole_remainder_moves(string status, string operation, string expected)
    {
        var (merchant, id) = await PaymentInAsync(status);

        var after = await CaptureOrVoidAsync(merchant, id, operation);

        Assert.Equal(expected, Str(after, "status"));
        Assert.Equal(1000, Long(after, "captured_amount") + Long(after, "voided_amount"));
    }

    [Theory]
    [InlineData("DECLINED", "capture")]
    [InlineData("DECLINED", "void")]
    [InlineData("VOIDED", "capture")]
    [InlineData("VOIDED", "void")]
    [InlineData("EXPIRED", "capture")]
    [InlineData("EXPIRED", "void")]
    [InlineData("CAPTURED", "capture")]
    [InlineData("CAPTURED", "void")]
    [InlineData("SETTLED", "capture")]
    [InlineData("SETTLED", "void")]
    public async Task A_payment_with_nothing_remaining_is_409_invalid_state_before_any_amount_check(string status, string operation)
    {
        var (merchant, id) = await PaymentInAsync(status);
        var before = (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body!.ToJsonString();

        var small = await PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation, amount = 1 });
        var huge = await PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation, amount = 999_999 });

        Assert.Equal(HttpStatusCode.Conflict, small.Status);
        Assert.Equal("invalid_state", Code(small.Body));
        Assert.Equal(HttpStatusCode.Conflict, huge.Status);
        Assert.Equal("invalid_state", Code(huge.Body));
        Assert.Equal(before, (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body!.ToJsonString());
    }

    [Theory]
    [InlineData("capture")]
    [InlineData("void")]
    public async Task More_than_remains_is_422_amount_exceeds_remaining(string operation)
    {
        var (merchant, id) = await PaymentInAsync("PARTIAL_CAPTURED");

        var (status, body, _) = await PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation, amount = 601 });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("amount_exceeds_remaining", Code(body));
        var read = await GetAsync(merchant.Http, $"/v1/transactions/{id}");
        Assert.Equal(400, Long(read.Body, "captured_amount"));
    }

    [Fact]
    public async Task Several_partial_captures_add_up_to_the_authorization()
    {
        var (merchant, id) = await PaymentInAsync("AUTHORIZED");

        await CaptureOrVoidAsync(merchant, id, "capture", 250);
        await CaptureOrVoidAsync(merchant, id, "capture", 250);
        var last = await CaptureOrVoidAsync(merchant, id, "capture", 500);

        Assert.Equal("CAPTURED", Str(last, "status"));
        Assert.Equal(1000, Long(last, "captured_amount"));
        Assert.Equal(4, last["history"]!.AsArray().Count);
    }

    [Fact]
    public async Task If_match_with_a_stale_etag_is_412_and_with_the_current_one_applies()
    {
        var (merchant, id) = await PaymentInAsync("AUTHORIZED");
        var read = await GetAsync(merchant.Http, $"/v1/transactions/{id}");
        var etag = read.Response.Headers.ETag!.ToString();
        await CaptureOrVoidAsync(merchant, id, "capture", 100);

        var stale = await PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation = "capture", amount = 100 }, ifMatch: etag);
        var current = (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Response.Headers.ETag!.ToString();
        var fresh = await PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation = "capture", amount = 100 }, ifMatch: current);

        Assert.Equal("\"1\"", etag);
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.Status);
        Assert.Equal("precondition_failed", Code(stale.Body));
        Assert.Equal(HttpStatusCode.OK, fresh.Status);
        Assert.Equal(200, Long(fresh.Body, "captured_amount"));
        Assert.NotEqual(current, fresh.Response.Headers.ETag!.ToString());
    }

    [Theory]
    [InlineData("\"1\", \"2\"", true)]
    [InlineData("\"7\",\"2\"", true)]
    [InlineData("\"2\", \"1\"", true)]
    [InlineData("\"1\", W/\"2\", \"2\"", true)]
    [InlineData("*", true)]
    [InlineData("\"1\", \"3\"", false)]
    [InlineData("\"1\", W/\"2\"", false)]
    [InlineData("W/\"2\"", false)]
    [InlineData("\"02\"", false)]
    [InlineData("2", false)]
    public async Task If_match_with_a_list_applies_when_any_listed_strong_etag_is_current(string ifMatch, bool applies)
    {
        // RFC 9110 13.1.1: true when any listed entity tag matches by strong comparison; weak tags never do.
        var (merchant, id) = await PaymentInAsync("AUTHORIZED");
        await CaptureOrVoidAsync(merchant, id, "capture", 100);
        Assert.Equal("\"2\"", (await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Response.Headers.ETag!.ToString());

        var (status, body, _) = await PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation = "capture", amount = 100 }, ifMatch: ifMatch);

        if (applies)
        {
            Assert.True(status == HttpStatusCode.OK, $"If-Match {ifMatch} answered {(int)status}: {body}");
            Assert.Equal(200, Long(body, "captured_amount"));
        }
        else
        {
            Assert.True(status == HttpStatusCode.PreconditionFailed, $"If-Match {ifMatch} answered {(int)status}: {body}");
            Assert.Equal("precondition_failed", Code(body));
            Assert.Equal(100, Long((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "captured_amount"));
        }
    }

    [Fact]
    public async Task A_refund_or_chargeback_transaction_cannot_be_captured()
    {
        var (merchant, id) = await PaymentInAsync("CAPTURED");
        var chargeback = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = id, amount = 100, reason_code = "fraud" });

        var (status, body, _) = await PostAsync(merchant.Http, $"/v1/transactions/{Str(chargeback.Body, "trx_id")}", new { operation = "capture" });

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("invalid_state", Code(body));
    }

    internal static JsonArray History(JsonNode trx) => trx["history"]!.AsArray();
}
