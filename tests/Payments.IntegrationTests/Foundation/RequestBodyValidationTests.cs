using System.Net;
using System.Text.Json.Nodes;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Foundation;

/// <summary>
/// Bodies every JSON route refuses the same way, at binding: control characters in text, repeated names, values of the
/// wrong type, unknown fields and malformed JSON are 400 <c>validation_failed</c> keyed by the field, in the gateway's
/// own words, and nothing is stored.
/// </summary>
public sealed class RequestBodyValidationTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private const string Intent = """{"amount":100,"currency":"USD","order_id":"o-1",""";

    private static void AssertRefused(HttpStatusCode status, JsonNode? problem, string field)
    {
        Assert.True(status == HttpStatusCode.BadRequest, $"answered {(int)status}: {problem}");
        Assert.Equal("validation_failed", Code(problem));
        Assert.True(problem!["errors"]?[field] is JsonArray { Count: > 0 }, $"no errors.{field} in {problem}");
        AssertNoInternals(problem);
    }

    /// <summary>No .NET type, namespace or parser position reaches a merchant.</summary>
    private static void AssertNoInternals(JsonNode? problem)
    {
        var text = problem!.ToJsonString();
        foreach (var leak in new[] { "System.", "Payments.", ".NET", "LineNumber", "BytePosition", "SerializerErrors", "token type", "`" })
        {
            Assert.DoesNotContain(leak, text, StringComparison.Ordinal);
        }
    }

    private static string[] Messages(JsonNode? problem, string field) =>
        problem!["errors"]![field]!.AsArray().Select(m => m!.GetValue<string>()).ToArray();

    private async Task<string> CapturedPaymentAsync(MerchantClient merchant)
    {
        var token = await gateway.TokenizeCardAsync(merchant);
        return Str(await AuthorizeAsync(merchant, token, amount: 1000, operation: "authcap"), "trx_id");
    }

    [Theory]
    [InlineData("\\u0000")]
    [InlineData("\\u0001")]
    [InlineData("\\u001b[31m")]
    public async Task A_control_character_in_a_refund_reason_is_400_and_refunds_nothing(string control)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = await CapturedPaymentAsync(merchant);

        var (status, problem, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds",
            $$"""{"amount":1,"reason":"a{{control}}b"}""", idempotencyKey: "nul-refund");

        AssertRefused(status, problem, "reason");
        Assert.Equal(0, Long((await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body, "refunded_amount"));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM refunds.refunds WHERE payment_trx_id = $1", paymentId));
        // A 400 leaves the key free: the corrected request runs under it. Tabs and line breaks are text, and kept.
        var (retried, _, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds",
            """{"amount":1,"reason":"line 1\r\nline 2\tend"}""", idempotencyKey: "nul-refund");
        Assert.Equal(HttpStatusCode.Created, retried);
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM refunds.refunds WHERE payment_trx_id = $1 AND reason = $2",
            paymentId, "line 1\r\nline 2\tend"));
    }

    [Fact]
    public async Task Query_parameters_never_reach_a_body_request()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = await CapturedPaymentAsync(merchant);

        // Neither overrides the body (nor the idempotency fingerprint, which has no query): the route defines no query
        // parameter, so both are refused, a control character first, before anything happens.
        var (withNul, first, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds?reason=a%00b", """{"amount":1}""");
        var (withAmount, second, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds?amount=5", """{"amount":1}""");

        AssertRefused(withNul, first, "reason");
        AssertRefused(withAmount, second, "amount");
        Assert.Equal(0, Long((await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body, "refunded_amount"));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM refunds.refunds WHERE payment_trx_id = $1", paymentId));
    }

    [Theory]
    [InlineData("order_id", "a%00b")]
    [InlineData("external_id", "%01")]
    public async Task A_control_character_in_a_lookup_id_is_400(string idType, string id)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await GetAsync(merchant.Http, $"/v1/transactions/lookup?id_type={idType}&id={id}");

        AssertRefused(status, problem, "id");
    }

    public static TheoryData<string, string> IntentBodiesWithNul => new()
    {
        { Intent + "\"description\":\"a\\u0000b\"}", "description" },
        { Intent + "\"metadata\":{\"k\":\"a\\u0000\"}}", "metadata" },
        { Intent + "\"metadata\":{\"k\\u0000\":\"a\"}}", "metadata" },
    };

    [Theory]
    [MemberData(nameof(IntentBodiesWithNul))]
    public async Task A_nul_in_any_payment_intent_text_is_400_naming_the_field_and_stores_nothing(string json, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await PostAsync(merchant.Http, "/v1/payment-intents", json, idempotencyKey: "nul-intent");

        AssertRefused(status, problem, field);
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM intents.payment_intents WHERE merchant_id = $1", merchant.MerchantId));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM idempotency.requests WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Theory]
    [InlineData("""{"metadata":{"k":"a\u0000"}}""", "metadata")]
    [InlineData("""{"metadata":{"\u0000":"a"}}""", "metadata")]
    [InlineData("""{"return_url":"https://shop.example/back\u0000"}""", "return_url")]
    public async Task A_nul_in_tokenization_intent_text_is_400_and_stores_nothing(string json, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await PostAsync(merchant.Http, "/v1/tokenization-intents", json);

        AssertRefused(status, problem, field);
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM tokenization.intents WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Fact]
    public async Task A_nul_in_a_webhook_url_is_400_and_stores_nothing()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await PostAsync(merchant.Http, "/v1/webhook-endpoints",
            """{"url":"https://hooks.example/in\u0000","enabled_events":["*"]}""");

        AssertRefused(status, problem, "url");
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM webhooks.endpoints WHERE merchant_id = $1", merchant.MerchantId));
    }

    public static TheoryData<string, string, string, string> WrongShapes => new()
    {
        { "/v1/transactions", """{"operation":"authorize","amount":100,"currency":"USD","card_token":"tok_x","order_id":"o","foo":1}""", "foo", "Unknown field." },
        { "/v1/transactions", """{"operation":"authorize","amount":"100","currency":"USD","card_token":"tok_x","order_id":"o"}""", "amount", "Must be an integer." },
        { "/v1/transactions", """{"operation":"authorize","amount":10.5,"currency":"USD","card_token":"tok_x","order_id":"o"}""", "amount", "Must be an integer." },
        { "/v1/transactions", """{"operation":7,"amount":100,"currency":"USD","card_token":"tok_x","order_id":"o"}""", "operation", "Must be a string." },
        { "/v1/payment-intents", Intent + "\"metadata\":[]}", "metadata", "Must be an object of string values." },
        { "/v1/payment-intents", Intent + "\"metadata\":{\"k\":1}}", "metadata", "Must be an object of string values." },
        { "/v1/webhook-endpoints", """{"url":"https://hooks.example/in","enabled_events":"*"}""", "enabled_events", "Must be an array of strings." },
        { "/v1/sandbox/expire-authorizations", """{"as_of":"yesterday"}""", "as_of", "Must be an ISO 8601 timestamp with an offset, such as 2024-03-01T12:00:00Z." },
        { "/v1/transactions", """{"operation":"authorize","amount":100,""", "body", "The body is not valid JSON." },
        { "/v1/transactions", """{"operation":"authorize","amount":1x}""", "body", "The body is not valid JSON." },
        { "/v1/payment-intents", "[]", "body", "The body must be a JSON object." },
    };

    [Theory]
    [MemberData(nameof(WrongShapes))]
    public async Task A_body_of_the_wrong_shape_is_400_in_the_gateways_own_words(string path, string json, string field, string message)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await PostAsync(merchant.Http, path, json);

        AssertRefused(status, problem, field);
        Assert.Equal([message], Messages(problem, field));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", merchant.MerchantId));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM intents.payment_intents WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Fact]
    public async Task A_repeated_amount_is_400_and_captures_nothing()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var paymentId = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");

        var (status, problem, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}",
            """{"operation":"capture","amount":100,"amount":200}""", idempotencyKey: "dup-capture");

        AssertRefused(status, problem, "amount");
        var payment = (await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body;
        Assert.Equal(0, Long(payment, "captured_amount"));
        Assert.Equal("AUTHORIZED", Str(payment, "status"));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM idempotency.requests WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Theory]
    [InlineData("""{"amount":100,"amount":100,"currency":"USD","order_id":"o"}""", "amount")]
    [InlineData("""{"amount":100,"currency":"USD","order_id":"o","metadata":{"k":"a","k":"b"}}""", "metadata")]
    [InlineData("""{"amount":100,"currency":"USD","order_id":"o","metadata":{},"metadata":{"k":"b"}}""", "metadata")]
    public async Task A_repeated_name_in_a_payment_intent_is_400_naming_the_field(string json, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await PostAsync(merchant.Http, "/v1/payment-intents", json);

        AssertRefused(status, problem, field);
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM intents.payment_intents WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Fact]
    public async Task Character_limits_count_unicode_characters_not_utf16_units()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        const string Emoji = "\U0001F600"; // one character, two UTF-16 units
        string Repeat(int n) => string.Concat(Enumerable.Repeat(Emoji, n));

        var (created, intent, _) = await PostAsync(merchant.Http, "/v1/payment-intents", new Dictionary<string, object>
        {
            ["amount"] = 100, ["currency"] = "USD", ["order_id"] = "o-emoji", ["description"] = Repeat(1000),
            ["metadata"] = new Dictionary<string, string> { [Repeat(40)] = Repeat(500) },
        });
        Assert.True(created == HttpStatusCode.Created, $"answered {(int)created}: {intent}");
        Assert.Equal(1000, await ScalarAsync(gateway, "SELECT length(description) FROM intents.payment_intents WHERE id = $1", Str(intent, "id")));

        var (tooLong, problem, _) = await PostAsync(merchant.Http, "/v1/payment-intents", new Dictionary<string, object>
        {
            ["amount"] = 100, ["currency"] = "USD", ["order_id"] = "o-emoji", ["description"] = Repeat(1001),
        });
        AssertRefused(tooLong, problem, "description");
        var (keyTooLong, keyProblem, _) = await PostAsync(merchant.Http, "/v1/payment-intents", new Dictionary<string, object>
        {
            ["amount"] = 100, ["currency"] = "USD", ["order_id"] = "o-emoji", ["metadata"] = new Dictionary<string, string> { [Repeat(41)] = "v" },
        });
        AssertRefused(keyTooLong, keyProblem, "metadata");

        var (tokenized, _, _) = await PostAsync(merchant.Http, "/v1/tokenization-intents", new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, string> { [Repeat(40)] = Repeat(500) },
        });
        Assert.Equal(HttpStatusCode.Created, tokenized);

        var paymentId = await CapturedPaymentAsync(merchant);
        var (refunded, refund, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds",
            new { amount = 1, reason = Repeat(1000) });
        Assert.True(refunded == HttpStatusCode.Created, $"answered {(int)refunded}: {refund}");
        var (refundTooLong, refundProblem, _) = await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds",
            new { amount = 1, reason = Repeat(1001) });
        AssertRefused(refundTooLong, refundProblem, "reason");
        Assert.Equal(1, Long((await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body, "refunded_amount"));
    }
}
