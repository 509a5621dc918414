using System.Net;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

public sealed class AuthorizeTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Fact]
    public async Task Authorize_records_an_authorized_payment_readable_by_id_external_id_and_order_id()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var externalId = "ext-" + Guid.NewGuid().ToString("N")[..8];

        var trx = await AuthorizeAsync(merchant, token, amount: 1050, currency: "EUR", orderId: "order-1", externalId: externalId);

        var id = Str(trx, "trx_id");
        Assert.StartsWith("trx_", id, StringComparison.Ordinal);
        Assert.Equal("PAYMENT", Str(trx, "type"));
        Assert.Equal("AUTHORIZED", Str(trx, "status"));
        Assert.Equal(1050, Long(trx, "order_amount"));
        Assert.Equal("EUR", Str(trx, "currency"));
        Assert.Equal(0, Long(trx, "captured_amount"));
        Assert.Equal("4242", trx["card"]!["last4"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(Str(trx, "authorization_code")));
        Assert.Null(trx["decline_code"]);
        Assert.Equal("AUTHORIZE", trx["history"]![0]!["operation"]!.GetValue<string>());

        var byId = await GetAsync(merchant.Http, $"/v1/transactions/{id}");
        var byExternal = await GetAsync(merchant.Http, $"/v1/transactions/lookup?id_type=external_id&id={externalId}");
        var byOrder = await GetAsync(merchant.Http, "/v1/transactions/lookup?id_type=order_id&id=order-1");
        Assert.Equal(HttpStatusCode.OK, byId.Status);
        Assert.Equal("\"1\"", byId.Response.Headers.ETag?.ToString());
        Assert.Equal(id, Str(byId.Body, "trx_id"));
        Assert.Equal(id, Str(byExternal.Body, "trx_id"));
        Assert.Equal(id, Str(byOrder.Body, "trx_id"));
        Assert.Equal(trx.ToJsonString(), byId.Body!.ToJsonString());
    }

    /// <summary>A conditional GET (RFC 9110 §13.1.2): the version the client holds answers 304; a changed one, the transaction.</summary>
    [Fact]
    public async Task If_None_Match_with_the_current_ETag_is_304_without_content_and_a_stale_one_gets_the_transaction()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000, orderId: "o-inm"), "trx_id");

        async Task<(HttpStatusCode Status, string Body, string? ETag)> GetIfNoneMatchAsync(string path, string tags)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("If-None-Match", tags);
            using var response = await merchant.Http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.ETag?.ToString());
        }

        foreach (var tags in new[] { "\"1\"", "W/\"1\"", "\"7\", \"1\"", "*" })
        {
            var (status, body, etag) = await GetIfNoneMatchAsync($"/v1/transactions/{id}", tags);
            Assert.True(status == HttpStatusCode.NotModified, $"If-None-Match {tags} answered {(int)status}");
            Assert.Equal("", body);
            Assert.Equal("\"1\"", etag);
        }
        Assert.Equal(HttpStatusCode.NotModified, (await GetIfNoneMatchAsync("/v1/transactions/lookup?id_type=order_id&id=o-inm", "\"1\"")).Status);

        await CaptureOrVoidAsync(merchant, id, "capture", 400);
        var (changed, content, newTag) = await GetIfNoneMatchAsync($"/v1/transactions/{id}", "\"1\"");
        Assert.Equal(HttpStatusCode.OK, changed);
        Assert.Equal("\"2\"", newTag);
        Assert.Contains("PARTIAL_CAPTURED", content, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authcap_captures_everything_at_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant, "5555555555554444");

        var trx = await AuthorizeAsync(merchant, token, amount: 700, operation: "AUTHCAP");

        Assert.Equal("CAPTURED", Str(trx, "status"));
        Assert.Equal(700, Long(trx, "captured_amount"));
        Assert.Equal(2, trx["history"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("4000000000000002", "card_declined")]
    [InlineData("4000000000009995", "insufficient_funds")]
    [InlineData("4000000000000069", "expired_card")]
    [InlineData("4000000000000119", "processing_error")]
    public async Task A_decline_is_a_recorded_declined_transaction(string number, string code)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant, number);

        var trx = await AuthorizeAsync(merchant, token);

        Assert.Equal("DECLINED", Str(trx, "status"));
        Assert.Equal(code, Str(trx, "decline_code"));
        Assert.Null(trx["authorization_code"]);
        var read = await GetAsync(merchant.Http, $"/v1/transactions/{Str(trx, "trx_id")}");
        Assert.Equal("DECLINED", Str(read.Body, "status"));
    }

    [Fact]
    public async Task Reusing_an_external_id_is_409_even_after_a_decline()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var declining = await gateway.TokenizeCardAsync(merchant, "4000000000000002");
        var good = await gateway.TokenizeCardAsync(merchant);
        await AuthorizeAsync(merchant, declining, externalId: "same-ext");

        var (status, body, _) = await PostAsync(merchant.Http, "/v1/transactions", new
        {
            operation = "authorize", amount = 100, currency = "USD", card_token = good, order_id = "o", external_id = "same-ext",
        });

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("duplicate_external_id", Code(body));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", merchant.MerchantId));
    }

    public static TheoryData<string, string> BadBodies => new()
    {
        { """{"operation":"authorize","amount":-1,"currency":"USD","card_token":"tok_x","order_id":"o"}""", "amount" },
        { """{"operation":"authorize","amount":0,"currency":"USD","card_token":"tok_x","order_id":"o"}""", "amount" },
        { """{"operation":"authorize","amount":10.5,"currency":"USD","card_token":"tok_x","order_id":"o"}""", "" },
        { """{"operation":"authorize","amount":1000000000000,"currency":"USD","card_token":"tok_x","order_id":"o"}""", "amount" },
        { """{"operation":"authorize","amount":"100","currency":"USD","card_token":"tok_x","order_id":"o"}""", "" },
        { """{"operation":"authorize","amount":100,"currency":"ABC","card_token":"tok_x","order_id":"o"}""", "currency" },
        { """{"operation":"authorize","amount":100,"currency":"usd","card_token":"tok_x","order_id":"o"}""", "currency" },
        { """{"operation":"authorize","amount":100,"currency":"XAU","card_token":"tok_x","order_id":"o"}""", "currency" },
        { """{"operation":"authorize","amount":100,"currency":"USD","order_id":"o"}""", "card_token" },
        { """{"operation":"authorize","amount":100,"currency":"USD","card_token":"tok_x"}""", "order_id" },
        { """{"operation":"sale","amount":100,"currency":"USD","card_token":"tok_x","order_id":"o"}""", "operation" },
        { """{"operation":"authorize","amount":100,"currency":"USD","card_token":"tok_x","order_id":"o","ammount":1}""", "" },
        { """{"operation":"authorize","payment_intent_id":"pi_01J5XCMDXCFXCAQ1BV8HVG6644","amount":100}""", "amount" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_authorize_body_is_400_and_writes_nothing(string json, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await PostAsync(merchant.Http, "/v1/transactions", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        if (field.Length > 0)
        {
            Assert.NotNull(body!["errors"]![field]);
        }
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Theory]
    [InlineData("4242424242424241")] // fails Luhn as a whole; pieces of 13–15 digits pass
    [InlineData("1752601815908301661")] // a 19-digit timestamp-like id
    [InlineData("424242424242424242424242")] // 24 digits: no run of 13–19
    [InlineData("ord 4242 4242 4242 4241")]
    public async Task A_digit_run_that_is_not_a_card_number_as_a_whole_is_accepted_in_order_id(string orderId)
    {
        var (status, body) = await AuthorizeWithOrderIdAsync(orderId);

        Assert.True(status == HttpStatusCode.Created, $"answered {(int)status}: {body}");
        Assert.Equal(orderId, Str(body, "order_id"));
    }

    [Theory]
    [InlineData("4242424242424242")]
    [InlineData("order-4242-4242-4242-4242")]
    [InlineData("a 4000 0566 5566 5556 b")]
    [InlineData("ref 4035_5010_0000_0008")]
    [InlineData("4035/5010/0000/0008")]
    public async Task A_Luhn_valid_run_in_order_id_is_refused(string orderId)
    {
        var (status, body) = await AuthorizeWithOrderIdAsync(orderId);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("card_data_in_field", Code(body));
    }

    private async Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode? Body)> AuthorizeWithOrderIdAsync(string orderId)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var (status, body, _) = await PostAsync(merchant.Http, "/v1/transactions", new
        {
            operation = "authorize", amount = 100, currency = "USD", card_token = token, order_id = orderId,
        });
        return (status, body);
    }

    [Fact]
    public async Task A_card_number_in_order_id_is_refused_without_echoing_it()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);

        var (status, body, _) = await PostAsync(merchant.Http, "/v1/transactions", new
        {
            operation = "authorize", amount = 100, currency = "USD", card_token = token, order_id = "4242 4242 4242 4242",
        });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("card_data_in_field", Code(body));
        Assert.DoesNotContain("4242 4242", body!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_merchants_token_or_transaction_is_404()
    {
        var owner = await gateway.CreateMerchantClientAsync();
        var other = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(owner);
        var trx = await AuthorizeAsync(owner, token);

        var withForeignToken = await PostAsync(other.Http, "/v1/transactions", new
        {
            operation = "authorize", amount = 100, currency = "USD", card_token = token, order_id = "o",
        });
        var read = await GetAsync(other.Http, $"/v1/transactions/{Str(trx, "trx_id")}");
        var capture = await PostAsync(other.Http, $"/v1/transactions/{Str(trx, "trx_id")}", new { operation = "capture" });
        var unknownToken = await PostAsync(owner.Http, "/v1/transactions", new
        {
            operation = "authorize", amount = 100, currency = "USD", card_token = "tok_01J5XCMDXCFXCAQ1BV8HVG6644", order_id = "o",
        });

        Assert.Equal(HttpStatusCode.NotFound, withForeignToken.Status);
        Assert.Equal("not_found", Code(withForeignToken.Body));
        Assert.Equal(HttpStatusCode.NotFound, read.Status);
        Assert.Equal(HttpStatusCode.NotFound, capture.Status);
        Assert.Equal(HttpStatusCode.NotFound, unknownToken.Status);
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", other.MerchantId));
    }

    [Fact]
    public async Task Lookup_by_order_id_gives_the_latest_payment_whatever_its_status()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var good = await gateway.TokenizeCardAsync(merchant);
        var declining = await gateway.TokenizeCardAsync(merchant, "4000000000000002");
        await AuthorizeAsync(merchant, good, orderId: "shared-order");
        var latest = await AuthorizeAsync(merchant, declining, orderId: "shared-order");

        var (status, body, _) = await GetAsync(merchant.Http, "/v1/transactions/lookup?id_type=order_id&id=shared-order");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Str(latest, "trx_id"), Str(body, "trx_id"));
        Assert.Equal("DECLINED", Str(body, "status"));
    }
}
