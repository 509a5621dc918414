using System.Net;
using System.Text.Json.Nodes;
using NJsonSchema;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Foundation;

/// <summary>
/// Requests judged twice, by the schema /openapi/v1.json gives them and by the gateway itself: a client that validates
/// its requests against the document must be refused what the gateway refuses, and nothing the gateway serves.
/// </summary>
public sealed class OpenApiRequestSchemaTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    private const string Range = "start_date=01/01/2024&end_date=01/02/2024";

    [Theory]
    [InlineData("limit", -3, 10)]
    [InlineData("limit", 0, 10)]
    [InlineData("limit", 5, 10)]
    [InlineData("limit", 1000, 100)]
    [InlineData("offset", -3, 0)]
    public async Task List_paging_values_the_gateway_clamps_are_valid_by_the_document(string name, long value, long applied)
    {
        var doc = await DocumentAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await GetAsync(merchant.Http, $"/v1/transactions?{Range}&{name}={value}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(applied, Long(body, name));
        Assert.Empty(await ParameterErrorsAsync(doc, "/v1/transactions", name, JsonValue.Create(value)));
    }

    [Theory]
    [InlineData("status", "SETTLED", true)]
    [InlineData("status", "PARTIAL_CAPTURED", true)]
    [InlineData("status", "PENDING", false)]
    [InlineData("status", "settled", false)]
    [InlineData("type", "CHARGEBACK", true)]
    [InlineData("type", "SALE", false)]
    [InlineData("sort_by", "order_amount", true)]
    [InlineData("sort_by", "amount", false)]
    [InlineData("sort_direction", "desc", false)]
    public async Task List_filters_the_document_allows_are_those_the_gateway_takes(string name, string value, bool taken)
    {
        var doc = await DocumentAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, _, _) = await GetAsync(merchant.Http, $"/v1/transactions?{Range}&{name}={value}");

        Assert.Equal(taken ? HttpStatusCode.OK : HttpStatusCode.BadRequest, status);
        Assert.Equal(taken, (await ParameterErrorsAsync(doc, "/v1/transactions", name, JsonValue.Create(value))).Count == 0);
    }

    [Theory]
    [InlineData("after_sequence", -1, false)]
    [InlineData("after_sequence", 0, true)]
    [InlineData("limit", 0, false)]
    [InlineData("limit", 100, true)]
    [InlineData("limit", 101, false)]
    public async Task Event_paging_bounds_are_the_ones_the_gateway_refuses_outside(string name, long value, bool taken)
    {
        var doc = await DocumentAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, _, _) = await GetAsync(merchant.Http, $"/v1/events?{name}={value}");

        Assert.Equal(taken ? HttpStatusCode.OK : HttpStatusCode.BadRequest, status);
        Assert.Equal(taken, (await ParameterErrorsAsync(doc, "/v1/events", name, JsonValue.Create(value))).Count == 0);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(999_999_999_999, true)]
    [InlineData(1_000_000_000_000, false)]
    public async Task Amount_bounds_are_declared_on_every_request_that_takes_an_amount(long amount, bool taken)
    {
        var doc = await DocumentAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await PostAsync(merchant.Http, "/v1/payment-intents", new { amount, currency = "JPY", order_id = "order-bounds" });

        Assert.True((taken ? HttpStatusCode.Created : HttpStatusCode.BadRequest) == status, $"{(int)status}: {body}");
        foreach (var schema in new[] { "CreatePaymentIntentRequest", "AuthorizeRequest", "CaptureVoidRequest", "CreateRefundRequest", "ChargebackRequest" })
        {
            Assert.True(taken == ((await PropertyErrorsAsync(doc, schema, "amount", JsonValue.Create(amount))).Count == 0), $"{schema}.amount {amount}");
        }
    }

    public static TheoryData<string, int, int, int, bool> MetadataCases => new()
    {
        // pairs, key length, value length (in characters, one of them an emoji: two UTF-16 units), taken
        { "/v1/payment-intents", 20, 40, 500, true },
        { "/v1/payment-intents", 21, 10, 10, false },
        { "/v1/payment-intents", 1, 41, 10, false },
        { "/v1/payment-intents", 1, 0, 10, false },
        { "/v1/payment-intents", 1, 10, 501, false },
        { "/v1/tokenization-intents", 20, 40, 500, true },
        { "/v1/tokenization-intents", 21, 10, 10, false },
        { "/v1/tokenization-intents", 1, 41, 10, false },
        { "/v1/tokenization-intents", 1, 10, 501, false },
    };

    [Theory]
    [MemberData(nameof(MetadataCases))]
    public async Task Metadata_limits_are_declared_as_the_gateway_enforces_them(string path, int pairs, int keyLength, int valueLength, bool taken)
    {
        var doc = await DocumentAsync();
        var merchant = await gateway.CreateMerchantClientAsync();
        var metadata = new JsonObject();
        var judged = new JsonObject();
        for (var i = 0; i < pairs; i++)
        {
            metadata[Text($"{i:D2}", keyLength)] = Text("v", valueLength);
            // NJsonSchema counts UTF-16 units where JSON Schema counts code points (as the gateway does): it judges the
            // same lengths in ASCII.
            judged[Text($"{i:D2}", keyLength).Replace("\U0001F600", "x", StringComparison.Ordinal)] =
                Text("v", valueLength).Replace("\U0001F600", "x", StringComparison.Ordinal);
        }
        var body = path == "/v1/payment-intents"
            ? new JsonObject { ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "order-meta", ["metadata"] = metadata }
            : new JsonObject { ["metadata"] = metadata };

        var (status, answer, _) = await PostAsync(merchant.Http, path, body.ToJsonString());

        Assert.True((taken ? HttpStatusCode.Created : HttpStatusCode.BadRequest) == status, $"{(int)status}: {answer}");
        var schema = path == "/v1/payment-intents" ? "CreatePaymentIntentRequest" : "CreateTokenizationIntentRequest";
        var errors = await PropertyErrorsAsync(doc, schema, "metadata", judged);
        // NJsonSchema does not know propertyNames (JSON Schema 2019+): the keys are checked against it one by one.
        var names = doc["components"]!["schemas"]![schema]!["properties"]!["metadata"]!["propertyNames"];
        Assert.NotNull(names);
        foreach (var (key, _) in judged)
        {
            errors.AddRange(await ErrorsAsync(names!.ToJsonString(), JsonValue.Create(key)));
        }
        Assert.True(taken == (errors.Count == 0), string.Join("; ", errors));
    }

    [Fact]
    public async Task References_and_free_text_carry_their_contract_lengths()
    {
        var doc = await DocumentAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var tooLong = await PostAsync(merchant.Http, "/v1/payment-intents",
            new { amount = 100, currency = "EUR", order_id = new string('o', 65), description = new string('d', 1001) });

        Assert.Equal(HttpStatusCode.BadRequest, tooLong.Status);
        foreach (var (schema, property) in new[] { ("CreatePaymentIntentRequest", "order_id"), ("CreatePaymentIntentRequest", "external_id"), ("AuthorizeRequest", "order_id"), ("AuthorizeRequest", "external_id") })
        {
            Assert.NotEmpty(await PropertyErrorsAsync(doc, schema, property, JsonValue.Create(new string('o', 65))));
            Assert.NotEmpty(await PropertyErrorsAsync(doc, schema, property, JsonValue.Create("")));
            Assert.NotEmpty(await PropertyErrorsAsync(doc, schema, property, JsonValue.Create("caf\u00e9")));
            Assert.Empty(await PropertyErrorsAsync(doc, schema, property, JsonValue.Create("order #7 ~ [a]")));
        }
        foreach (var (schema, property) in new[] { ("CreatePaymentIntentRequest", "description"), ("CreateRefundRequest", "reason") })
        {
            Assert.NotEmpty(await PropertyErrorsAsync(doc, schema, property, JsonValue.Create(new string('d', 1001))));
            Assert.Empty(await PropertyErrorsAsync(doc, schema, property, JsonValue.Create(new string('d', 1000))));
        }
    }

    /// <summary>
    /// Each JSON request schema's <c>required</c> list is what the gateway refuses an empty object for: a field the
    /// document calls optional but the gateway requires fails every generated client that leaves it out (a webhook
    /// endpoint's <c>enabled_events</c> was such a field), and one it calls required but the gateway does not keeps
    /// clients from a default the contract gives them. Token and revoke are left out: an empty revoke revokes.
    /// </summary>
    [Fact]
    public async Task Every_request_schema_requires_exactly_the_fields_an_empty_body_is_refused_for()
    {
        var doc = await DocumentAsync();
        var merchant = await gateway.CreateMerchantClientAsync();
        var mismatches = new List<string>();
        var checkedSchemas = 0;
        foreach (var (path, item) in doc["paths"]!.AsObject())
        {
            if (item!["post"]?["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"]?.GetValue<string>() is not { } reference
                || path is "/v1/auth/token" or "/v1/auth/revoke")
            {
                continue;
            }
            var schema = reference.Split('/')[^1];
            var required = (doc["components"]!["schemas"]![schema]!["required"]?.AsArray().Select(n => n!.GetValue<string>()) ?? []).ToHashSet();
            // A field required in one of a request's shapes only says so (an authorization with or without an intent).
            var conditional = (doc["components"]!["schemas"]![schema]!["properties"]?.AsObject() ?? [])
                .Where(p => p.Value?["description"]?.GetValue<string>().StartsWith("Required without", StringComparison.Ordinal) == true)
                .Select(p => p.Key);
            required.UnionWith(conditional);
            var concrete = System.Text.RegularExpressions.Regex.Replace(path, "{[^}]+}", "unknown_id");

            var (status, body, _) = await PostAsync(merchant.Http, concrete, new { });

            var refused = status == HttpStatusCode.BadRequest
                ? (body?["errors"]?.AsObject().Select(e => e.Key) ?? []).ToHashSet()
                : [];
            if (!refused.SetEquals(required))
            {
                mismatches.Add($"{path} ({schema}): {{}} answered {(int)status} refusing [{string.Join(", ", refused.Order())}]; " +
                               $"the document requires [{string.Join(", ", required.Order())}]");
            }
            checkedSchemas++;
        }
        Assert.True(checkedSchemas >= 8, $"only {checkedSchemas} request schemas were found");
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    /// <summary><paramref name="length"/> characters starting with <paramref name="prefix"/> and ending in an emoji (one character, two UTF-16 units).</summary>
    private static string Text(string prefix, int length) =>
        length == 0 ? "" : (prefix + new string('x', Math.Max(0, length - prefix.Length - 1)))[..(length - 1)] + "\U0001F600";

    private async Task<JsonObject> DocumentAsync()
    {
        using var client = gateway.CreateClient();
        return JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!.AsObject();
    }

    private static Task<List<string>> ParameterErrorsAsync(JsonObject doc, string path, string name, JsonNode value)
    {
        var parameter = doc["paths"]![path]!["get"]!["parameters"]!.AsArray().Single(p => (string?)p!["name"] == name && (string?)p["in"] == "query");
        return ErrorsAsync(parameter!["schema"]!.ToJsonString(), value);
    }

    private static Task<List<string>> PropertyErrorsAsync(JsonObject doc, string schema, string property, JsonNode value) =>
        ErrorsAsync(doc["components"]!["schemas"]![schema]!["properties"]![property]!.ToJsonString(), value);

    private static async Task<List<string>> ErrorsAsync(string schema, JsonNode value)
    {
        var parsed = await JsonSchema.FromJsonAsync(schema);
        return parsed.Validate(value.ToJsonString()).Select(e => e.ToString()).ToList();
    }
}
