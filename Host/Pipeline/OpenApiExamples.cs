using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Payments.Host.Pipeline;

/// <summary>
/// Attaches a request example and response examples to every operation of the merchant API contract
/// (docs/API.md), keyed by method and path, so the browsable reference shows real payloads. The values follow
/// the contract's field names and the sandbox's test cards; the client tests run the same flow for real.
/// </summary>
internal static partial class OpenApiExamples
{
    private const string Trx = "trx_01J5XCMDXCFXCAQ1BV8HVG6644";
    private const string Refund = "trx_01J5XD3Q8M0W6R2H9F1YB7KQ2C";
    private const string Pi = "pi_01J5XC7TQJ3F8N1W4Y2K9R6M5D";
    private const string Tki = "tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y";
    private const string Tok = "tok_01J5XC5Z7D3K9M2N8Q4W1R6T0P";
    private const string Created = "2024-03-01T12:00:00Z";
    private const string Updated = "2024-03-01T12:05:00Z";

    private sealed record Route(string? Request, IReadOnlyDictionary<string, string> Responses);

    /// <summary>Examples by "METHOD /path" with path parameter names erased ("{}").</summary>
    internal static IReadOnlyDictionary<string, (string? Request, IReadOnlyDictionary<string, string> Responses)> ByRoute => Routes.Value;

    // Lazy: the example strings below are static fields initialized after this one.
    private static readonly Lazy<Dictionary<string, (string? Request, IReadOnlyDictionary<string, string> Responses)>> Routes =
        new(() => Build().ToDictionary(kv => kv.Key, kv => (kv.Value.Request, kv.Value.Responses), StringComparer.Ordinal));

    public static OpenApiOptions AddContractExamples(this OpenApiOptions options) =>
        options.AddDocumentTransformer((doc, _, _) =>
        {
            Apply(doc);
            return Task.CompletedTask;
        });

    internal static string KeyOf(string method, string path) =>
        method.ToUpperInvariant() + " /" + PathParameter().Replace(path.TrimStart('/'), "{}");

    internal static void Apply(OpenApiDocument doc)
    {
        foreach (var (path, item) in doc.Paths)
        {
            foreach (var (method, operation) in item.Operations ?? [])
            {
                if (!ByRoute.TryGetValue(KeyOf(method.Method, path), out var route))
                {
                    continue;
                }
                if (route.Request is not null && operation.RequestBody?.Content is { } requestContent)
                {
                    foreach (var (type, media) in requestContent)
                    {
                        media.Example = JsonNode.Parse(route.Request);
                        // A form token request names its grant (RFC 6749 4.4); a JSON one needs none.
                        if (type == "application/x-www-form-urlencoded" && path == "/v1/auth/token" && media.Example is JsonObject form)
                        {
                            form.Insert(0, "grant_type", "client_credentials");
                        }
                    }
                }
                operation.Responses ??= [];
                var success = route.Responses.FirstOrDefault(r => r.Key.StartsWith('2'));
                foreach (var (status, response) in operation.Responses.ToList())
                {
                    var example = route.Responses.TryGetValue(status, out var e) ? e
                        : status.StartsWith('2') ? success.Value
                        : int.TryParse(status, out var code) && code >= 400 ? GenericProblem(code) : null;
                    if (example is not null && response is OpenApiResponse concrete)
                    {
                        SetExample(concrete, status, example);
                    }
                }
                foreach (var (status, example) in route.Responses)
                {
                    var documentedSuccess = status.StartsWith('2') && operation.Responses.Keys.Any(k => k.StartsWith('2'));
                    if (!operation.Responses.ContainsKey(status) && !documentedSuccess)
                    {
                        var response = new OpenApiResponse { Description = OpenApiContract.DescriptionOf(status) };
                        if (!status.StartsWith('2'))
                        {
                            response.Content = new Dictionary<string, OpenApiMediaType>
                            {
                                ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(OpenApiContract.ProblemSchema, doc) },
                            };
                        }
                        SetExample(response, status, example);
                        operation.Responses[status] = response;
                    }
                }
            }
        }
    }

    private static void SetExample(OpenApiResponse response, string status, string example)
    {
        response.Content ??= new Dictionary<string, OpenApiMediaType>();
        if (response.Content.Count == 0)
        {
            response.Content[status.StartsWith('2') ? "application/json" : "application/problem+json"] = new OpenApiMediaType();
        }
        foreach (var media in response.Content.Values)
        {
            media.Example = JsonNode.Parse(example);
        }
    }

    private static string Problem(int status, string code, string detail, string? errors = null) =>
        $$"""{"type":"http://127.0.0.1:5080/docs/errors#{{code}}","title":"{{Payments.BuildingBlocks.Http.Problems.TitleFor(status)}}","status":{{status}},"detail":"{{detail}}","code":"{{code}}",{{(errors is null ? "" : "\"errors\":" + errors + ",")}}"request_id":"req_01J5XCQ3N6P8R1T4W7Y0B2D5F8"}""";

    // An error status the route documents without a specific example: the code the gateway gives that status.
    private static string GenericProblem(int status) =>
        Problem(status, status switch
        {
            409 => Payments.BuildingBlocks.Http.ErrorCodes.IdempotencyRequestInProgress,
            422 => Payments.BuildingBlocks.Http.ErrorCodes.IdempotencyKeyReused,
            _ => Payments.BuildingBlocks.Http.ErrorCodes.ForStatus(status),
        }, Payments.BuildingBlocks.Http.Problems.TitleFor(status) + ".");

    private static string Payment(string status, long captured, long voided = 0, long refunded = 0, bool history = false) =>
        $$"""
        {"trx_id":"{{Trx}}","type":"PAYMENT","status":"{{status}}","order_amount":1050,"currency":"USD",
         "captured_amount":{{captured}},"voided_amount":{{voided}},"settled_amount":0,"refunded_amount":{{refunded}},"charged_back_amount":0,
         "order_id":"order-1001","external_id":"shop-7f3a9c","payment_intent_id":null,"parent_trx_id":null,
         "card":{"brand":"VISA","last4":"4242"},"authorization_code":"A1B2C3","decline_code":null,"over_recovered":false,
         "created_at":"{{Created}}","updated_at":"{{Updated}}"{{(history ? ",\"history\":" + History : "")}}}
        """;

    private const string History = $$"""
        [{"seq":1,"operation":"AUTHORIZE","amount":1050,"status":"AUTHORIZED","at":"{{Created}}","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"5f1d3c0e8a9b4f27d6e1c2b3a4958677f8e9d0c1b2a3948576f6e5d4c3b2a190"},
         {"seq":2,"operation":"CAPTURE","amount":600,"status":"PARTIAL_CAPTURED","at":"{{Updated}}","prev_hash":"5f1d3c0e8a9b4f27d6e1c2b3a4958677f8e9d0c1b2a3948576f6e5d4c3b2a190","hash":"a7c2e94f0b1d3e5f6a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"}]
        """;

    private static readonly string RefundTransaction = $$"""
        {"trx_id":"{{Refund}}","type":"REFUND","status":"CAPTURED","order_amount":300,"currency":"USD",
         "captured_amount":0,"voided_amount":0,"settled_amount":0,"refunded_amount":0,"charged_back_amount":0,
         "order_id":"order-1001","external_id":null,"payment_intent_id":null,"parent_trx_id":"{{Trx}}",
         "card":{"brand":"VISA","last4":"4242"},"authorization_code":"R7K2M9","decline_code":null,"over_recovered":false,
         "created_at":"{{Updated}}","updated_at":"{{Updated}}"}
        """;

    private static readonly string IntentRequiresCard = $$"""
        {"id":"{{Tki}}","status":"REQUIRES_CARD","client_secret":"{{Tki}}_secret_9XkQ2mW7pL4v","card_entry_url":"https://vault.payments.example/card-entry/{{Tki}}","expires_at":"2024-03-01T12:30:00Z",
         "return_url":"https://shop.example/checkout/card-saved","metadata":{"customer":"cus_881"},"created_at":"{{Created}}"}
        """;

    private static readonly string IntentSucceeded = $$$"""
        {"id":"{{{Tki}}}","status":"SUCCEEDED","expires_at":"2024-03-01T12:30:00Z","created_at":"{{{Created}}}",
         "return_url":"https://shop.example/checkout/card-saved","metadata":{"customer":"cus_881"},
         "card_token":"{{{Tok}}}","card":{"brand":"VISA","last4":"4242","exp_month":12,"exp_year":2030,"fingerprint":"fp_3n8Q1vX7kL2m"}}
        """;

    private static string PaymentIntent(string status, string? transactionId = null) => $$"""
        {"id":"{{Pi}}","status":"{{status}}","amount":1050,"currency":"USD","order_id":"order-1001","external_id":"shop-7f3a9c",
         "card_token":"{{Tok}}","description":"2 books","metadata":{"cart":"c_123"},"transaction_id":{{(transactionId is null ? "null" : "\"" + transactionId + "\"")}},
         "last_decline_code":null,"created_at":"{{Created}}","updated_at":"{{Updated}}"}
        """;

    private static readonly string NotFound = Problem(404, "not_found", "No such object.");
    private static readonly string Unauthorized = Problem(401, "invalid_token", "The access token is missing, expired or revoked.");

    private static Dictionary<string, Route> Build()
    {
        static Dictionary<string, string> R(params (string Status, string Json)[] answers) =>
            answers.ToDictionary(a => a.Status, a => a.Json, StringComparer.Ordinal);

        return new Dictionary<string, Route>(StringComparer.Ordinal)
        {
            ["POST /v1/auth/token"] = new("""{"client_id":"cli_01J5XBZ1Q2W3E4R5T6Y7U8I9O0","client_secret":"sk_sandbox_4f9Qm2Wx7Lp3Zr8Vt1Ky"}""", R(
                ("200", """{"access_token":"eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJtZXJfMDFKNVhCWiJ9.c2lnbmF0dXJl","token_type":"Bearer","expires_in":900}"""),
                ("400", Problem(400, "validation_failed", "client_id and client_secret are required.", """{"client_id":["Required."]}""")),
                ("401", """{"type":"http://127.0.0.1:5080/docs/errors#invalid_client","title":"Authentication is required","status":401,"detail":"Unknown client or wrong secret.","code":"invalid_client","error":"invalid_client","request_id":"req_01J5XCQ3N6P8R1T4W7Y0B2D5F8"}"""),
                ("429", Problem(429, "rate_limited", "Too many failed attempts; retry after the time in Retry-After.")))),
            ["POST /v1/auth/revoke"] = new("""{"token":"eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJtZXJfMDFKNVhCWiJ9.c2lnbmF0dXJl"}""", R(
                ("401", Unauthorized))),
            ["GET /.well-known/jwks.json"] = new(null, R(
                ("200", """{"keys":[{"kty":"EC","use":"sig","alg":"ES256","kid":"k1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"""))),

            ["POST /v1/tokenization-intents"] = new("""{"return_url":"https://shop.example/checkout/card-saved","metadata":{"customer":"cus_881"}}""", R(
                ("201", IntentRequiresCard),
                ("400", Problem(400, "card_data_in_field", "A field holds what looks like a card number.", """{"metadata":["Card data is not accepted here."]}""")),
                ("401", Unauthorized))),
            ["GET /v1/tokenization-intents/{}"] = new(null, R(("200", IntentSucceeded), ("404", NotFound))),
            ["DELETE /v1/card-tokens/{}"] = new(null, R(("404", NotFound))),

            ["POST /v1/payment-intents"] = new("""{"amount":1050,"currency":"USD","order_id":"order-1001","external_id":"shop-7f3a9c","card_token":"tok_01J5XC5Z7D3K9M2N8Q4W1R6T0P","description":"2 books","metadata":{"cart":"c_123"}}""", R(
                ("201", PaymentIntent("REQUIRES_CONFIRMATION")),
                ("400", Problem(400, "validation_failed", "The request is invalid.", """{"currency":["Unknown or unsupported currency."]}""")),
                ("404", NotFound))),
            ["GET /v1/payment-intents/{}"] = new(null, R(("200", PaymentIntent("SUCCEEDED", Trx)), ("404", NotFound))),
            ["POST /v1/payment-intents/{}/cancel"] = new(null, R(
                ("200", PaymentIntent("CANCELED")),
                ("409", Problem(409, "invalid_state", "The payment intent has already succeeded.")))),

            ["POST /v1/transactions"] = new($$"""{"operation":"authorize","amount":1050,"currency":"USD","card_token":"{{Tok}}","order_id":"order-1001","external_id":"shop-7f3a9c"}""", R(
                ("201", Payment("AUTHORIZED", 0)),
                ("400", Problem(400, "validation_failed", "The request is invalid.", """{"amount":["Must be between 1 and 999999999999."]}""")),
                ("404", NotFound),
                ("409", Problem(409, "duplicate_external_id", "A payment with this external_id exists.")),
                ("422", Problem(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.")))),
            ["GET /v1/transactions"] = new(null, R(
                ("200", $$"""{"data":[{{Payment("CAPTURED", 1050)}}],"offset":0,"limit":10,"total":1,"has_more":false,"as_of":"2024-03-01T13:00:00.123456Z"}"""),
                ("400", Problem(400, "validation_failed", "The request is invalid.", """{"start_date":["Use DD/MM/YYYY."]}""")))),
            ["GET /v1/transactions/lookup"] = new(null, R(("200", Payment("AUTHORIZED", 0)), ("404", NotFound))),
            ["GET /v1/transactions/{}"] = new(null, R(("200", Payment("PARTIAL_CAPTURED", 600, history: true)), ("404", NotFound))),
            ["POST /v1/transactions/{}"] = new("""{"operation":"capture","amount":600}""", R(
                ("200", Payment("PARTIAL_CAPTURED", 600)),
                ("409", Problem(409, "invalid_state", "Nothing remains to capture or void.")),
                ("412", Problem(412, "precondition_failed", "The transaction changed since that ETag.")),
                ("422", Problem(422, "amount_exceeds_remaining", "The amount is more than remains authorized.")))),
            ["POST /v1/transactions/{}/refunds"] = new("""{"amount":300,"reason":"customer returned an item"}""", R(
                ("201", RefundTransaction),
                ("409", Problem(409, "invalid_state", "Nothing was captured on this payment.")),
                ("422", Problem(422, "amount_exceeds_refundable", "The amount is more than is still refundable.")))),
            ["GET /v1/transactions/{}/history/verify"] = new(null, R(
                ("200", $$"""{"trx_id":"{{Trx}}","valid":true,"entries":2,"first_broken_seq":null}"""),
                ("404", NotFound))),

            ["POST /v1/sandbox/expire-authorizations"] = new("""{"as_of":"2024-03-09T00:00:00Z"}""", R(("200", """{"expired":3}"""))),
            ["POST /v1/sandbox/settle"] = new(null, R(("200", """{"settlement_id":"stl_01J5XF2K8M4N6P0R2T4V6X8Z0B","settled":12}"""))),
            ["POST /v1/sandbox/chargebacks"] = new($$"""{"trx_id":"{{Trx}}","amount":1050,"reason_code":"10.4"}""", R(
                ("201", Payment("CAPTURED", 1050).Replace("\"PAYMENT\"", "\"CHARGEBACK\"", StringComparison.Ordinal)),
                ("422", Problem(422, "amount_exceeds_captured", "The chargeback is more than was captured.")))),

            ["POST /v1/webhook-endpoints"] = new("""{"url":"https://shop.example/hooks/payments","enabled_events":["transaction.captured","refund.created"]}""", R(
                ("201", """{"id":"we_01J5XG1A2B3C4D5E6F7G8H9J0K","url":"https://shop.example/hooks/payments","enabled_events":["transaction.captured","refund.created"],"status":"ENABLED","disabled_reason":null,"secret":"whsec_7Qm2Wx9Lp4Zr1Vt8Ky3N","created_at":"2024-03-01T12:00:00Z"}"""),
                ("400", Problem(400, "validation_failed", "The request is invalid.", """{"url":["Only https URLs on public addresses in live mode."]}""")))),
            ["GET /v1/webhook-endpoints"] = new(null, R(
                ("200", """{"data":[{"id":"we_01J5XG1A2B3C4D5E6F7G8H9J0K","url":"https://shop.example/hooks/payments","enabled_events":["*"],"status":"ENABLED","disabled_reason":null,"secret":null,"created_at":"2024-03-01T12:00:00Z"}]}"""))),
            ["DELETE /v1/webhook-endpoints/{}"] = new(null, R(("404", NotFound))),
            ["GET /v1/events"] = new(null, R(
                ("200", $$"""{"data":[{"id":"evt_01J5XH3C5E7G9J1L3N5Q7S9U1W","type":"transaction.captured","sequence":42,"created_at":"{{Updated}}","data":{{Payment("CAPTURED", 1050)}}}],"has_more":false}"""))),
            ["POST /v1/events/{}/redeliver"] = new(null, R(("202", """{"event_id":"evt_01J5XG3K4M5N6P7Q8R9S0T1V2W","deliveries":1}"""), ("404", NotFound))),
        };
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex PathParameter();
}
