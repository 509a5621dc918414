using System.Net;
using System.Text;
using Payments.IntegrationTests.Foundation;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Limits;

/// <summary>
/// "Every answer of a limited route carries the RateLimit-Policy and RateLimit headers": the refusals a slice throws
/// (404, 409, 412, 422), the body limit's 413 and an unexpected 500 go through the exception handler, which rewrites
/// the response; they must keep the headers as the 2xx and 429 answers do. Sent without an Idempotency-Key, the path
/// the review found them missing on.
/// </summary>
public sealed class RateLimitHeadersOnErrorsTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private const string Policy = "\"merchant\";q=1000;w=1";

    internal static void AssertRateLimitHeaders(HttpResponseMessage answer, HttpStatusCode expected, string code, string body)
    {
        Assert.True(answer.StatusCode == expected, $"expected {(int)expected}, got {(int)answer.StatusCode}: {body}");
        Assert.Contains($"\"{code}\"", body, StringComparison.Ordinal);
        Assert.True(answer.Headers.Contains("RateLimit-Policy"), $"{(int)expected} {code} has no RateLimit-Policy header");
        Assert.True(answer.Headers.Contains("RateLimit"), $"{(int)expected} {code} has no RateLimit header");
        Assert.Equal(Policy, Assert.Single(answer.Headers.GetValues("RateLimit-Policy")));
        Assert.Matches("^\"merchant\";r=[0-9]+;t=[0-9]+$", Assert.Single(answer.Headers.GetValues("RateLimit")));
    }

    private static async Task AssertRateLimitHeadersAsync(
        Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode? Body, HttpResponseMessage Response)> call, HttpStatusCode expected, string code)
    {
        var (_, body, response) = await call;
        AssertRateLimitHeaders(response, expected, code, body?.ToJsonString() ?? "");
    }

    private async Task<(MerchantClient Merchant, string Token)> MerchantWithCardAsync()
    {
        var merchant = await gateway.LimitedMerchantAsync(rps: 1000);
        return (merchant, await gateway.TokenizeCardAsync(merchant));
    }

    [Fact]
    public async Task A_404_not_found_on_the_money_routes_carries_the_rate_limit_headers()
    {
        var merchant = await gateway.LimitedMerchantAsync(rps: 1000);
        const string unknown = "trx_01J5XCMDXCFXCAQ1BV8HVG6644";

        await AssertRateLimitHeadersAsync(GetAsync(merchant.Http, $"/v1/transactions/{unknown}"), HttpStatusCode.NotFound, "not_found");
        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{unknown}", new { operation = "capture", amount = 100 }),
            HttpStatusCode.NotFound, "not_found");
        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{unknown}/refunds", new { amount = 100 }),
            HttpStatusCode.NotFound, "not_found");
        await AssertRateLimitHeadersAsync(GetAsync(merchant.Http, "/v1/transactions/lookup?id_type=order_id&id=nobody"),
            HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task A_409_invalid_state_or_duplicate_external_id_carries_the_rate_limit_headers()
    {
        var (merchant, token) = await MerchantWithCardAsync();
        var externalId = "ext-" + Guid.NewGuid().ToString("N")[..12];
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000, externalId: externalId), "trx_id");

        // Nothing captured yet: a refund is refused on state.
        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{id}/refunds", new { amount = 100 }),
            HttpStatusCode.Conflict, "invalid_state");
        await CaptureOrVoidAsync(merchant, id, "void");
        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation = "capture", amount = 100 }),
            HttpStatusCode.Conflict, "invalid_state");
        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, "/v1/transactions", new
        {
            operation = "authorize", amount = 1000, currency = "USD", card_token = token, order_id = "ord-dup", external_id = externalId,
        }), HttpStatusCode.Conflict, "duplicate_external_id");
    }

    [Fact]
    public async Task A_412_precondition_failed_carries_the_rate_limit_headers()
    {
        var (merchant, token) = await MerchantWithCardAsync();
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000, operation: "authcap"), "trx_id");

        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{id}", new { operation = "capture", amount = 100 }, ifMatch: "\"999\""),
            HttpStatusCode.PreconditionFailed, "precondition_failed");
        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{id}/refunds", new { amount = 100 }, ifMatch: "\"999\""),
            HttpStatusCode.PreconditionFailed, "precondition_failed");
    }

    [Fact]
    public async Task A_422_amount_refusal_carries_the_rate_limit_headers()
    {
        var (merchant, token) = await MerchantWithCardAsync();
        var authorized = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        var captured = Str(await AuthorizeAsync(merchant, token, amount: 1000, operation: "authcap"), "trx_id");

        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{authorized}", new { operation = "capture", amount = 5000 }),
            HttpStatusCode.UnprocessableEntity, "amount_exceeds_remaining");
        await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, $"/v1/transactions/{captured}/refunds", new { amount = 5000 }),
            HttpStatusCode.UnprocessableEntity, "amount_exceeds_refundable");
    }

    [Fact]
    public async Task A_GET_with_a_body_over_64_KiB_is_413_with_the_rate_limit_headers()
    {
        // A GET reads no body, so the server's own limit never fired: it answered 200. The document describes no GET with
        // a body, so this client does not check answers against it.
        var merchant = await gateway.LimitedMerchantAsync(rps: 1000);
        using var http = gateway.Host.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/transactions?start_date=01/01/2020&end_date=01/01/2030")
        {
            Content = new StringContent(new string(' ', 64 * 1024 + 1), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", merchant.AccessToken);

        using var answer = await http.SendAsync(request);

        AssertRateLimitHeaders(answer, HttpStatusCode.RequestEntityTooLarge, "payload_too_large", await answer.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_500_internal_error_carries_the_rate_limit_headers()
    {
        var (merchant, token) = await MerchantWithCardAsync();
        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..12];

        await using (await gateway.FailTransactionInsertsAsync($"NEW.order_id = '{orderId}'"))
        {
            await AssertRateLimitHeadersAsync(PostAsync(merchant.Http, "/v1/transactions", new
            {
                operation = "authorize", amount = 1000, currency = "USD", card_token = token, order_id = orderId,
            }), HttpStatusCode.InternalServerError, "internal_error");
        }
    }
}

/// <summary>The 64 KiB body limit is Kestrel's: only a Host on a real socket answers 413.</summary>
public sealed class RateLimitHeadersOnBodyLimitTests(KestrelGatewayFixture gateway) : IClassFixture<KestrelGatewayFixture>
{
    [Fact]
    public async Task A_413_body_too_large_carries_the_rate_limit_headers()
    {
        var merchant = await gateway.LimitedMerchantAsync(rps: 1000);
        var big = "{\"operation\":\"capture\",\"amount\":1" + new string(' ', 100 * 1024) + "}";

        using var content = new StringContent(big, Encoding.UTF8, "application/json");
        using var answer = await merchant.Http.PostAsync("/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644", content);

        RateLimitHeadersOnErrorsTests.AssertRateLimitHeaders(answer, HttpStatusCode.RequestEntityTooLarge, "payload_too_large",
            await answer.Content.ReadAsStringAsync());
    }
}
