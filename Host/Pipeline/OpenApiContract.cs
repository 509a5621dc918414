using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Money;
using Payments.BuildingBlocks.Text;
using Payments.Transactions.Contracts;
using Payments.Webhooks.Contracts;

namespace Payments.Host.Pipeline;

/// <summary>
/// What the endpoints' metadata cannot say about the merchant API, added to <c>/openapi/v1.json</c> by route: the
/// product's tags, a summary and description per operation, its security requirement, query and header parameters,
/// every status the gateway can answer with the one problem schema it sends, the response headers, and the webhooks.
/// Keyed like <see cref="OpenApiExamples"/> ("METHOD /path" with parameter names erased). docs/adr/0101.
/// </summary>
internal static class OpenApiContract
{
    public const string ProblemSchema = "Problem";
    internal const string PrintableAscii = @"^[\x20-\x7E]+$";
    private const string Bearer = "bearer";

    private static readonly (string Name, string Description)[] Tags =
    [
        ("Auth", "Access tokens for a merchant's API client (client credentials), their revocation, and the keys that verify them."),
        ("Tokenization", "Collecting a card without it touching your servers: a tokenization intent, the Vault's card-entry page, the card token. " +
            "Retention: a card token not used for 13 months (no authorization, authcap or refund; counted from its creation if never used) " +
            "is deleted with its card data, never while a payment on it can still be refunded or charged back (the authorization window plus 180 days after its last use)."),
        ("Payment intents", "A payment to be made with a card token, carried from creation to its authorization."),
        ("Transactions", "Authorizing a card (authorize or authcap), capturing and voiding, reading, looking up and listing payments."),
        ("Refunds", "Giving back captured money, in full or in parts."),
        ("Webhooks", "Endpoints that receive signed events, the event log for backfill, and redelivery."),
        ("Sandbox", "Sandbox-only levers: expire authorizations, settle, report a chargeback. They answer 404 in live mode."),
    ];

    private sealed record Param(string Name, string Description, JsonSchemaType Type, bool Required = false, string? Pattern = null,
        IReadOnlyList<string>? Enum = null, long? Minimum = null, long? Maximum = null, string? Example = null, string? Format = null,
        int? MinLength = null);

    /// <param name="Codes">The route's own problem codes, beyond those every route of its kind answers (<see cref="CodesOf"/>).</param>
    /// <param name="ETagOf">What the success answer's ETag is the version of, when not the object the route acts on.</param>
    private sealed record Op(string Id, string Tag, string Summary, string Description, int[] Errors,
        bool Anonymous = false, Param[]? Query = null, bool IfMatch = false, bool ETag = false, bool Location = false,
        string? SuccessSchema = null, string? SuccessStatus = null, string[]? Codes = null, string? ETagOf = null, bool NoFields = false);

    private static readonly Param[] ListQuery =
    [
        new("start_date", "First day (UTC) of creation, DD/MM/YYYY.", JsonSchemaType.String, true, Pattern: @"^\d{2}/\d{2}/\d{4}$", Example: "01/03/2024"),
        new("end_date", "Last bound (UTC, 00:00:00 of that day), DD/MM/YYYY.", JsonSchemaType.String, true, Pattern: @"^\d{2}/\d{2}/\d{4}$", Example: "31/03/2024"),
        // Any integer is accepted and clamped (the contract's rule), so no minimum, maximum or int64 format: a client
        // validating against bounds would refuse requests the gateway serves.
        new("offset", "How many to skip (default 0). Any integer: a negative one counts as 0. The answer's `offset` is the one applied.",
            JsonSchemaType.Integer),
        new("limit", "Page size (default 10). Any integer: at or below 10 counts as 10, above 100 as 100. The answer's `limit` is the one applied.",
            JsonSchemaType.Integer),
        new("sort_by", "Sort key (default updated_at); ties are broken by trx_id.", JsonSchemaType.String,
            Enum: ["type", "status", "order_amount", "created_at", "updated_at"]),
        new("sort_direction", "ASC (default) or DESC.", JsonSchemaType.String, Enum: ["ASC", "DESC"]),
        new("type", "Only this type.", JsonSchemaType.String, Enum: TransactionTypes.All),
        new("status", "Only this status.", JsonSchemaType.String, Enum: TransactionStatuses.All),
        new("as_of", "The as_of of the first page: later pages do not shift while new transactions arrive.", JsonSchemaType.String,
            Example: "2024-03-01T13:00:00.123456Z", Format: "date-time"),
    ];

    private static readonly Dictionary<string, Op> Operations = new(StringComparer.Ordinal)
    {
        ["POST /v1/auth/token"] = new("createAccessToken", "Auth", "Get an access token",
            "Exchanges the API client's `client_id` and `client_secret` (JSON body, form body or HTTP Basic) for a short-lived " +
            "ES256 JWT. Failed attempts are limited per client and per IP address: past the limit every attempt answers 429 " +
            "with Retry-After. Errors also carry the OAuth 2.0 `error` member.",
            [400, 401, 413, 415, 429], Anonymous: true, Codes: [ErrorCodes.InvalidClient]),
        ["POST /v1/auth/revoke"] = new("revokeAccessToken", "Auth", "Revoke an access token",
            "Without a body or with `{}`, revokes the presented token; with `{\"token\"}`, that token of the same merchant " +
            "(an invalid or foreign token is answered 204 too, and nothing is revoked). A revoked token answers 401 at once.",
            [400, 413, 415]),
        ["GET /.well-known/jwks.json"] = new("getSigningKeys", "Auth", "Get the token signing keys",
            "The public ES256 keys (JWK Set) that verify access tokens, including retired keys whose tokens have not expired yet.",
            [], Anonymous: true),

        ["POST /v1/tokenization-intents"] = new("createTokenizationIntent", "Tokenization", "Create a tokenization intent",
            "Starts collecting one card. Send the cardholder to `card_entry_url` (a page on the Vault), or post the card from a " +
            "PCI-scoped server to the Vault's `POST /v1/tokenization-intents/{id}/card` (see the Vault's own document).",
            [400, 413, 415], Location: true, Codes: [ErrorCodes.CardDataInField]),
        ["GET /v1/tokenization-intents/{}"] = new("getTokenizationIntent", "Tokenization", "Get a tokenization intent",
            "REQUIRES_CARD, SUCCEEDED (with `card_token` and `card`), EXPIRED (past `expires_at`) or FAILED (after 5 refused cards).",
            [404]),
        ["DELETE /v1/card-tokens/{}"] = new("deleteCardToken", "Tokenization", "Delete a card token",
            "Deletes the card behind the token in the Vault; the token cannot be used again, and payments made with it can no " +
            "longer be refunded (a refund is DECLINED with `card_unavailable`).", [404]),

        ["POST /v1/payment-intents"] = new("createPaymentIntent", "Payment intents", "Create a payment intent",
            "A payment of `amount` in `currency` to be made with a card token.",
            [400, 404, 413, 415], Codes: [ErrorCodes.CardDataInField]),
        ["GET /v1/payment-intents/{}"] = new("getPaymentIntent", "Payment intents", "Get a payment intent", "The intent and, once authorized, its transaction.", [404]),
        ["POST /v1/payment-intents/{}/cancel"] = new("cancelPaymentIntent", "Payment intents", "Cancel a payment intent",
            "Cancels an intent that has not succeeded; 409 once it has. Takes no fields: no body, or `{}`.", [400, 404, 409],
            Codes: [ErrorCodes.InvalidState], NoFields: true),

        ["POST /v1/transactions"] = new("createTransaction", "Transactions", "Authorize a card",
            "`operation` `authorize` holds the amount; `authcap` authorizes and captures in one step. A declined card is a 201 " +
            "with status DECLINED and a `decline_code`. `external_id` is unique among your payments, declined ones included " +
            "(409 `duplicate_external_id`), except that an intent confirmed again after a decline gives its next payment the " +
            "intent's `external_id` too. The ETag is the transaction's version, for If-Match on later changes.",
            [400, 404, 409, 413, 415, 422], ETag: true,
            Codes: [ErrorCodes.CardDataInField, ErrorCodes.InvalidState, ErrorCodes.DuplicateExternalId]),
        ["GET /v1/transactions"] = new("listTransactions", "Transactions", "List transactions",
            "The merchant's transactions created between the two dates, filtered, sorted stably and paged, with the total " +
            "and the `as_of` watermark to pass on later pages.", [400], Query: ListQuery),
        ["GET /v1/transactions/lookup"] = new("lookupTransaction", "Transactions", "Find a payment by your own id",
            "The payment with this `external_id` or `order_id`: the most recent one for an order_id, and for an external_id " +
            "the most recent of the payments of an intent confirmed again after a decline.", [400, 404],
            Query:
            [
                new("id_type", "Which of your ids `id` is.", JsonSchemaType.String, true, Enum: ["external_id", "order_id"]),
                new("id", "The id.", JsonSchemaType.String, true, Example: "shop-7f3a9c", MinLength: 1),
            ], ETag: true),
        ["GET /v1/transactions/{}"] = new("getTransaction", "Transactions", "Get a transaction",
            "The transaction with its `history` (a hash chain of every operation). The ETag is its version.", [404], ETag: true),
        ["POST /v1/transactions/{}"] = new("captureOrVoidTransaction", "Transactions", "Capture or void an authorization",
            "`operation` `capture` (all or part of what remains authorized) or `void` (all or part of what remains). With If-Match, applies " +
            "only if the transaction is still at that version, else 412.", [400, 404, 409, 412, 413, 415, 422], IfMatch: true, ETag: true,
            Codes: [ErrorCodes.InvalidState, ErrorCodes.AmountExceedsRemaining, ErrorCodes.PreconditionFailed]),
        ["GET /v1/transactions/{}/history/verify"] = new("verifyTransactionHistory", "Transactions", "Verify a transaction's history",
            "Recomputes the history's hash chain and says whether, and where, it is broken.", [404]),

        ["POST /v1/transactions/{}/refunds"] = new("createRefund", "Refunds", "Refund a payment",
            "A REFUND transaction of up to what was captured and not yet refunded. The acquirer may decline it: then it is " +
            "recorded DECLINED with a `decline_code` and refunds nothing. A refund goes to the card, so a payment whose card token was " +
            "deleted is refunded DECLINED with `card_unavailable`. With If-Match, applies only at that version of the payment.",
            [400, 404, 409, 412, 413, 415, 422], IfMatch: true, ETag: true,
            Codes: [ErrorCodes.CardDataInField, ErrorCodes.InvalidState, ErrorCodes.AmountExceedsRefundable, ErrorCodes.PreconditionFailed],
            ETagOf: "The new refund's version. Later refunds and changes of the payment take the payment's ETag (GET /v1/transactions/{trx_id})."),

        ["POST /v1/webhook-endpoints"] = new("createWebhookEndpoint", "Webhooks", "Register a webhook endpoint",
            "The answer carries the signing `secret`, which the endpoint list never shows; an idempotent replay answers it again. " +
            "A merchant has at most 16 endpoints (409 `invalid_state`).", [400, 409, 413, 415],
            Codes: [ErrorCodes.CardDataInField, ErrorCodes.InvalidState]),
        ["GET /v1/webhook-endpoints"] = new("listWebhookEndpoints", "Webhooks", "List webhook endpoints", "The merchant's endpoints, without secrets.", []),
        ["DELETE /v1/webhook-endpoints/{}"] = new("deleteWebhookEndpoint", "Webhooks", "Delete a webhook endpoint", "Nothing more is sent to it.", [404]),
        ["GET /v1/events"] = new("listEvents", "Webhooks", "List events",
            "The merchant's events after `after_sequence`, oldest first, byte for byte as delivered: the backfill after missed deliveries.",
            [400],
            Query:
            [
                // Unlike the transactions list, this route refuses out-of-range values (400), so the bounds are declared.
                new("after_sequence", "Only events with a greater sequence (default 0). A negative value is 400.", JsonSchemaType.Integer,
                    Minimum: 0, Format: "int64"),
                new("limit", "Page size, 1 to 100 (default 100); outside that range is 400, not clamped.", JsonSchemaType.Integer,
                    Minimum: 1, Maximum: 100),
            ], SuccessSchema: "EventList"),
        ["POST /v1/events/{}/redeliver"] = new("redeliverEvent", "Webhooks", "Redeliver an event",
            "Queues the event again for every endpoint that takes its type. Takes no fields: no body, or `{}`.", [400, 404], NoFields: true),

        ["POST /v1/sandbox/expire-authorizations"] = new("expireAuthorizations", "Sandbox", "Expire old authorizations",
            "Expires the merchant's authorizations whose 7-day window has ended by `as_of` (required): an instant, ISO 8601 with " +
            "`Z` or a `±hh:mm` offset, taken as UTC. A timestamp without an offset is 400.", [400, 404, 413, 415]),
        ["POST /v1/sandbox/settle"] = new("settle", "Sandbox", "Settle now",
            "Runs a settlement of the merchant's captured payments now. Takes no fields: no body, or `{}`.", [400, 404], NoFields: true),
        ["POST /v1/sandbox/chargebacks"] = new("createChargeback", "Sandbox", "Report a chargeback",
            "As the acquirer would: a CHARGEBACK transaction of up to what was captured and not charged back yet.",
            [400, 404, 409, 413, 415, 422], ETag: true, SuccessSchema: "TransactionSnapshot", SuccessStatus: "201",
            Codes: [ErrorCodes.CardDataInField, ErrorCodes.InvalidState, ErrorCodes.AmountExceedsCaptured],
            ETagOf: "The new chargeback's version. Later changes of the payment take the payment's ETag (GET /v1/transactions/{trx_id})."),
    };

    /// <summary>Every operation the contract table describes, for the tests.</summary>
    internal static IReadOnlyCollection<string> Keys => Operations.Keys;

    public static void Apply(OpenApiDocument doc)
    {
        doc.Components ??= new OpenApiComponents();
        doc.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        doc.Components.Schemas.Remove("ProblemDetails");
        doc.Components.Schemas[ProblemSchema] = Problem();
        doc.Components.Schemas["EventList"] = EventList(doc);
        doc.Components.Schemas["NoFields"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            MaxProperties = 0,
            AdditionalPropertiesAllowed = false,
            Description = "`{}`: the route takes no fields.",
        };
        doc.Components.Schemas["RevokeRequest"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            AdditionalPropertiesAllowed = false,
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["token"] = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, Description = "Another access token of the same merchant." },
            },
        };
        doc.Components.Schemas["TokenRequest"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            AdditionalPropertiesAllowed = false,
            Required = new HashSet<string> { "client_id", "client_secret" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["client_id"] = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1 },
                ["client_secret"] = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1 },
                // A string, not a one-value enum: a generated client would then send its enum's default, spelt its own way.
                ["grant_type"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String | JsonSchemaType.Null,
                    Description = "Optional here (OAuth 2.0 libraries send it): `client_credentials`; any other value is 400 `unsupported_grant_type`.",
                },
            },
        };
        doc.Components.Schemas["RevokeForm"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Required = new HashSet<string> { "token" },
            Description = "RFC 7009 §2.1. Other parameters are ignored.",
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["token"] = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, Description = "An access token of the same merchant." },
                ["token_type_hint"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Ignored: only access tokens are issued." },
            },
        };
        doc.Components.Schemas["TokenForm"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            // grant_type is refused when missing (RFC 6749 4.4); the credentials may come as HTTP Basic instead.
            Required = new HashSet<string> { "grant_type" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["grant_type"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("client_credentials")] },
                ["client_id"] = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, Description = "Required unless sent with HTTP Basic." },
                ["client_secret"] = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, Description = "Required unless sent with HTTP Basic." },
                ["scope"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Ignored." },
            },
            // RFC 6749 §3.2: a token endpoint ignores parameters it does not know.
            AdditionalPropertiesAllowed = true,
        };
        RequestRules(doc);
        ResponseRules(doc);
        doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        doc.Components.SecuritySchemes["basic"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "basic",
            Description = "POST /v1/auth/token only: client_id and client_secret as HTTP Basic credentials.",
        };
        doc.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
        // Served behind any origin: "/" keeps generated clients and "try it" on the origin the document came from.
        doc.Servers = [new OpenApiServer { Url = "/", Description = "This gateway" }];

        foreach (var (path, item) in doc.Paths)
        {
            foreach (var (method, operation) in item.Operations ?? [])
            {
                var key = OpenApiExamples.KeyOf(method.Method, path);
                if (!Operations.TryGetValue(key, out var op))
                {
                    throw new InvalidOperationException($"{key} has no entry in {nameof(OpenApiContract)}: add one.");
                }
                Describe(doc, path, method, operation, op);
            }
        }
        doc.Webhooks = Webhooks(doc);
    }

    /// <summary>
    /// The request bodies' rules the schema generator cannot see: C# helper properties that are not wire fields, the
    /// operations' allowed values, the fields the validators require, and the validators' bounds on each field.
    /// </summary>
    private static void RequestRules(OpenApiDocument doc)
    {
        var schemas = doc.Components!.Schemas!;
        void Rule(string schema, string[] required, string? removed = null, string[]? operations = null)
        {
            if (!schemas.TryGetValue(schema, out var s) || s is not OpenApiSchema concrete || concrete.Properties is null)
            {
                return;
            }
            if (removed is not null)
            {
                concrete.Properties.Remove(removed);
            }
            if (operations is not null && concrete.Properties.TryGetValue("operation", out var op) && op is OpenApiSchema operation)
            {
                // The lowercase enum stays: generated clients get a typed, canonical value. The server's tolerance of
                // other cases is said in words, so no client is taught to send "AUTHORIZE".
                operation.Enum = operations.Select(o => (JsonNode)JsonValue.Create(o)).ToList();
                operation.Description = $"{string.Join(" or ", operations.Select(o => $"`{o}`"))}. The gateway accepts any case " +
                                        $"(`{operations[0].ToUpperInvariant()}` too); the lowercase values listed are canonical.";
            }
            if (required.Length > 0)
            {
                concrete.Required = new HashSet<string>(required);
            }
            foreach (var (name, property) in concrete.Properties.ToList())
            {
                if (property is OpenApiSchema field && Bounded(name, field) is { } bounded)
                {
                    concrete.Properties[name] = bounded;
                }
            }
            // A required field is never null on the wire: the validators answer null with 400 "Is required", as they
            // answer its absence. The C# property is nullable only so that absence reaches them.
            foreach (var name in required)
            {
                if (concrete.Properties.TryGetValue(name, out var property) && property is OpenApiSchema { Type: { } type } field
                    && type.HasFlag(JsonSchemaType.Null))
                {
                    field.Type = type & ~JsonSchemaType.Null;
                }
            }
        }
        Rule("AuthorizeRequest", ["operation"], removed: "capture", operations: ["authorize", "authcap"]);
        // The two shapes of an authorization: with a payment intent, which carries these, or without one, which needs them.
        foreach (var name in new[] { "amount", "currency", "card_token", "order_id" })
        {
            if (schemas.TryGetValue("AuthorizeRequest", out var authorize) && authorize is OpenApiSchema { Properties: { } fields }
                && fields.TryGetValue(name, out var field) && field is OpenApiSchema concrete)
            {
                concrete.Description = name == "card_token"
                    ? "Required without `payment_intent_id`; with one, optional (the intent's card token is used when absent). " + concrete.Description
                    : "Required without `payment_intent_id`; not sent with one (the intent carries it). " + concrete.Description;
            }
        }
        Rule("CaptureVoidRequest", ["operation"], removed: "is_capture", operations: ["capture", "void"]);
        Rule("ChargebackRequest", ["trx_id", "amount", "reason_code"]);
        Rule("CreateEndpointRequest", ["url", "enabled_events"]);
        Rule("CreatePaymentIntentRequest", ["amount", "currency", "order_id"]);
        Rule("CreateRefundRequest", []);
        Rule("CreateTokenizationIntentRequest", []);
        Rule("ExpireAuthorizationsRequest", ["as_of"]);
    }

    /// <summary>
    /// The answers' closed sets of values (the contract's statuses, types and operations), which the generator sees only
    /// as strings, and descriptions written for merchants rather than for this code.
    /// </summary>
    private static void ResponseRules(OpenApiDocument doc)
    {
        var schemas = doc.Components!.Schemas!;
        // Timestamps are written by UtcTimestampConverter; with a converter of its own the generator names the format
        // but no longer the type.
        foreach (var schema in schemas.Values.OfType<OpenApiSchema>())
        {
            foreach (var property in (schema.Properties ?? new Dictionary<string, IOpenApiSchema>()).Values.OfType<OpenApiSchema>())
            {
                if (property is { Format: "date-time", Type: null })
                {
                    property.Type = JsonSchemaType.String;
                }
            }
        }
        void Values(string schema, string property, IEnumerable<string> values)
        {
            if (schemas.TryGetValue(schema, out var s) && s is OpenApiSchema { Properties: { } properties }
                && properties.TryGetValue(property, out var p) && p is OpenApiSchema field)
            {
                field.Enum = values.Select(v => (JsonNode)JsonValue.Create(v)).ToList();
            }
        }
        Values("TransactionSnapshot", "type", TransactionTypes.All);
        Values("TransactionSnapshot", "status", TransactionStatuses.All);
        Values("HistoryEntry", "operation", ["AUTHORIZE", "CAPTURE", "VOID", "EXPIRE", "SETTLE", "REFUND", "CHARGEBACK"]);
        Values("HistoryEntry", "status", TransactionStatuses.All);
        Values("PaymentIntentResponse", "status", ["REQUIRES_PAYMENT_METHOD", "REQUIRES_CONFIRMATION", "SUCCEEDED", "CANCELED"]);
        Values("CreateTokenizationIntentResponse", "status", ["REQUIRES_CARD"]);
        Values("GetTokenizationIntentResponse", "status", ["REQUIRES_CARD", "SUCCEEDED", "EXPIRED", "FAILED"]);
        Values("EndpointResponse", "status", ["ENABLED", "DISABLED"]);
        // Shown in every answer, a replay's too (AnswerSeal): nullable in C# only for the copy stored without the secret.
        if (schemas.TryGetValue("CreateTokenizationIntentResponse", out var created) && created is OpenApiSchema { Properties: { } shown })
        {
            foreach (var name in new[] { "client_secret", "card_entry_url" })
            {
                if (shown.TryGetValue(name, out var property) && property is OpenApiSchema { Type: { } type } field)
                {
                    field.Type = type & ~JsonSchemaType.Null;
                }
            }
        }
        if (schemas.TryGetValue("TransactionSnapshot", out var snapshot) && snapshot is OpenApiSchema transaction)
        {
            transaction.Description = "A transaction: a PAYMENT, or a REFUND or CHARGEBACK of one (`parent_trx_id`). Webhook events carry it as `data`.";
        }
        if (schemas.TryGetValue("ListTransactionsResponse", out var list) && list is OpenApiSchema { Properties: { } listed }
            && listed.TryGetValue("as_of", out var asOf) && asOf is OpenApiSchema watermark)
        {
            watermark.Format = "date-time";
        }
    }

    /// <summary>
    /// A request field's schema with the contract's bounds (amounts, references, free text, metadata), or null when the
    /// field has none. A new schema, not the generator's edited: nothing of a response's shape can change with it.
    /// Lengths are JSON Schema's, Unicode code points, which is how the validators count (MerchantText.Length).
    /// </summary>
    private static OpenApiSchema? Bounded(string name, OpenApiSchema field) => name switch
    {
        "amount" => new OpenApiSchema
        {
            Type = field.Type,
            Format = "int64",
            Minimum = Currencies.MinAmount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Maximum = Currencies.MaxAmount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Description = "In the currency's minor unit, 1 to 999,999,999,999 (ISO 8583's 12 digits).",
        },
        "order_id" or "external_id" or "reason_code" => new OpenApiSchema
        {
            Type = field.Type,
            MinLength = 1,
            MaxLength = 64,
            Pattern = PrintableAscii,
            Description = "1 to 64 printable ASCII characters; no card numbers.",
        },
        "as_of" => new OpenApiSchema
        {
            Type = field.Type,
            Format = "date-time",
            Description = "An instant, ISO 8601 with `Z` or a `±hh:mm` offset (`2024-03-01T12:00:00Z`); any offset is taken as UTC.",
        },
        // Both refuse whitespace, control characters and port 0 (UrlText); the webhook URL also passes the SSRF policy.
        "url" => new OpenApiSchema
        {
            Type = field.Type,
            MaxLength = 2048,
            Description = "An absolute https URL to a public address (the sandbox also takes http and loopback), at most 2048 " +
                          "characters, without credentials, fragment, whitespace, control characters or port 0.",
        },
        "enabled_events" => new OpenApiSchema
        {
            Type = JsonSchemaType.Array,
            MinItems = 1,
            MaxItems = 32,
            UniqueItems = true,
            Items = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Enum = [JsonValue.Create("*"), .. WebhookEventTypes.All.Select(t => (JsonNode)JsonValue.Create(t))],
            },
            Description = "`[\"*\"]` for every event type, or the types to send, each once.",
        },
        "currency" => new OpenApiSchema
        {
            Type = field.Type,
            Pattern = "^[A-Z]{3}$",
            Description = "An upper-case ISO 4217 alpha-3 code whose minor unit is 0, 2 or 3; X-codes and fund codes are refused.",
        },
        "card_token" or "payment_intent_id" or "trx_id" => new OpenApiSchema
        {
            Type = field.Type,
            MinLength = 1,
            MaxLength = 100,
            Pattern = PrintableAscii,
            Description = name switch
            {
                "card_token" => "A card token (`tok_…`) of yours; an unknown or deleted one is 404.",
                "payment_intent_id" => "A payment intent (`pi_…`) of yours; an unknown one is 404.",
                _ => "A transaction (`trx_…`) of yours; an unknown one is 404.",
            },
        },
        "return_url" => new OpenApiSchema
        {
            Type = field.Type,
            MaxLength = 2048,
            Description = "An absolute http or https URL of at most 2048 characters, without credentials, whitespace, control characters or port 0.",
        },
        "description" or "reason" => new OpenApiSchema
        {
            Type = field.Type,
            MaxLength = MerchantText.MaxTextLength,
            Description = "At most 1,000 characters; no card numbers.",
        },
        "metadata" => new OpenApiSchema
        {
            Type = field.Type,
            MaxProperties = MerchantText.MaxMetadataPairs,
            PropertyNames = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = MerchantText.MaxMetadataKeyLength },
            AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = MerchantText.MaxMetadataValueLength },
            Description = "At most 20 pairs; keys of 1 to 40 characters, string values of at most 500; no card numbers in either.",
        },
        _ => null,
    };

    private static void Describe(OpenApiDocument doc, string path, HttpMethod method, OpenApiOperation operation, Op op)
    {
        operation.OperationId = op.Id;
        operation.Summary = op.Summary;
        operation.Description = op.Description;
        operation.Tags = new HashSet<OpenApiTagReference> { new(op.Tag, doc) };
        // An empty requirement ({}) says "no authentication" explicitly; an empty list would be dropped from the JSON.
        operation.Security = op.Anonymous ? [new OpenApiSecurityRequirement()] :
            [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, doc)] = [] }];

        var parameters = operation.Parameters ?? [];
        operation.Parameters = parameters;
        foreach (var name in PathParameters(path).Where(n => parameters.All(p => p.Name != n)))
        {
            parameters.Insert(0, new OpenApiParameter
            {
                Name = name,
                In = ParameterLocation.Path,
                Required = true,
                Description = name switch
                {
                    "trx_id" => "The transaction's id (trx_…).",
                    "token" => "The card token (tok_…).",
                    _ => "The object's id.",
                },
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = 64 },
            });
        }
        foreach (var q in op.Query ?? [])
        {
            parameters.Add(new OpenApiParameter
            {
                Name = q.Name,
                In = ParameterLocation.Query,
                Required = q.Required,
                Description = q.Description,
                Schema = new OpenApiSchema
                {
                    Type = q.Type,
                    Format = q.Format,
                    Pattern = q.Pattern,
                    MinLength = q.MinLength,
                    Enum = q.Enum?.Select(e => (JsonNode)JsonValue.Create(e)).ToList(),
                    Minimum = q.Minimum?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Maximum = q.Maximum?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                },
                Example = q.Example is null ? null : JsonValue.Create(q.Example),
            });
        }
        if (op.IfMatch)
        {
            parameters.Add(new OpenApiParameter
            {
                Name = "If-Match",
                In = ParameterLocation.Header,
                Required = false,
                Description = "One or more entity tags from earlier answers for this transaction, comma-separated (RFC 9110 §13.1.1), or `*`. " +
                              "The change applies only if one listed strong tag is the transaction's current ETag (`*`: whatever its version); " +
                              "weak tags (`W/\"3\"`) never match. Otherwise 412.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                Example = JsonValue.Create("\"3\""),
            });
        }
        if (parameters.Count == 0)
        {
            operation.Parameters = null;
        }
        if (path == "/v1/auth/token")
        {
            // Basic or a body: either carries the client credentials.
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("basic", doc)] = [] }, new OpenApiSecurityRequirement()];
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = false,
                Description = "The client credentials, unless sent with HTTP Basic.",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = new OpenApiSchemaReference("TokenRequest", doc) },
                    ["application/x-www-form-urlencoded"] = new() { Schema = new OpenApiSchemaReference("TokenForm", doc) },
                },
            };
        }
        if (path == "/v1/auth/revoke")
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = false,
                Description = "Optional: no body or `{}` revokes the presented token.",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = new OpenApiSchemaReference("RevokeRequest", doc) },
                    ["application/x-www-form-urlencoded"] = new() { Schema = new OpenApiSchemaReference("RevokeForm", doc) },
                },
            };
        }

        if (op.NoFields)
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = false,
                Description = "Optional: no body, or `{}`. Any field is 400.",
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = new OpenApiSchemaReference("NoFields", doc) },
                },
            };
        }
        if (path is "/v1/tokenization-intents" or "/v1/transactions/{trx_id}/refunds" && operation.RequestBody is OpenApiRequestBody optional)
        {
            // Every field is optional, and a POST without a body sends none (GatewayPipeline.ReadEmptyBodiesAsNoFields).
            optional.Required = false;
            optional.Description = "Optional: no body is the same as `{}`.";
        }

        var responses = operation.Responses ??= [];
        if (op.SuccessSchema is { } schema)
        {
            var status = op.SuccessStatus ?? responses.Keys.FirstOrDefault(k => k.StartsWith('2')) ?? "200";
            foreach (var success in responses.Keys.Where(k => k.StartsWith('2')).ToList())
            {
                responses.Remove(success);
            }
            responses[status] = new OpenApiResponse
            {
                Description = DescriptionOf(status),
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = new OpenApiSchemaReference(schema, doc) },
                },
            };
        }

        if (op.ETag && method == HttpMethod.Get)
        {
            responses["304"] = new OpenApiResponse
            {
                // Described, not declared as a parameter: generated clients would make every GET take it.
                Description = "The request's If-None-Match (RFC 9110 §13.1.2, weak comparison, or `*`) names the current ETag: " +
                              "the client's copy is current; no content.",
                Headers = new Dictionary<string, IOpenApiHeader> { ["ETag"] = Header("The object's version.", JsonSchemaType.String) },
            };
        }

        var idempotent = parameters.Any(p => p.Name == "Idempotency-Key");
        // Every error answer, declared here or by the endpoint, is the one problem schema.
        // A body over 64 KiB (413) or one that cannot be read (415) is refused on every route, whether it takes one or not.
        var errors = new SortedSet<int>(op.Errors.Concat(responses.Keys.Where(k => k[0] is '4' or '5').Select(int.Parse))) { 413, 415, 500, 503 };
        if (!op.Anonymous)
        {
            errors.Add(400); // a query parameter the route does not define (GatewayPipeline.RefuseUnknownQueryParameters)
            errors.Add(401);
            errors.Add(429); // the merchant's request rate (ADR 40)
        }
        if (idempotent)
        {
            errors.Add(409);
            errors.Add(422);
        }
        foreach (var status in errors)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            responses[key] = ProblemResponse(doc, status, responses.TryGetValue(key, out var existing) ? existing.Description : null,
                CodesOf(op, status, idempotent));
        }
        foreach (var (status, response) in responses)
        {
            if (response is not OpenApiResponse concrete)
            {
                continue;
            }
            if (string.IsNullOrEmpty(concrete.Description) || concrete.Description == status)
            {
                concrete.Description = DescriptionOf(status);
            }
            var headers = concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
            headers["Request-Id"] = Header("This request's id (req_…): quote it to support. A problem's request_id is the same, " +
                "except on an idempotent replay, whose stored problem keeps the first request's id.", JsonSchemaType.String);
            if (status.StartsWith('2'))
            {
                if (op.ETag && concrete.Content is { Count: > 0 })
                {
                    headers["ETag"] = Header(op.ETagOf ?? "The object's version, for If-Match.", JsonSchemaType.String);
                }
                if (op.Location && status == "201")
                {
                    headers["Location"] = Header("The new object's URL.", JsonSchemaType.String);
                }
            }
            // Every final answer is stored against the key and replayed, except 400, 401, 409 in progress, 429 and 5xx
            // (docs/API.md, Idempotency); 413 and 415 are refused before the key is read.
            if (idempotent && (status.StartsWith('2') || status is "404" or "409" or "412" or "422"))
            {
                headers["Idempotent-Replayed"] = Header("`true` when this is the stored answer to an earlier request with the same Idempotency-Key.",
                    JsonSchemaType.String, ["true"]);
            }
            if (status is "429" or "503")
            {
                headers["Retry-After"] = Header("Seconds to wait before retrying.", JsonSchemaType.Integer);
            }
            if (status == "409" && idempotent)
            {
                headers["Retry-After"] = Header("When the conflict is for now (`idempotency_request_in_progress`, or a payment intent another request " +
                    "is confirming): seconds to wait before retrying with the same key. Without it, the 409 is final.", JsonSchemaType.Integer);
            }
            if (!op.Anonymous && status != "401")
            {
                // draft-ietf-httpapi-ratelimit-headers, on every answer of a rate-limited route.
                headers["RateLimit-Policy"] = Header("The merchant's limit: `\"merchant\";q=<requests>;w=<seconds>`.", JsonSchemaType.String);
                headers["RateLimit"] = Header("What is left of it: `\"merchant\";r=<remaining>;t=<seconds until full>`.", JsonSchemaType.String);
            }
            if (status == "401")
            {
                headers["WWW-Authenticate"] = op.Anonymous
                    ? Header("The Basic challenge for client authentication (RFC 6749 §5.2).", JsonSchemaType.String)
                    : Header("The Bearer challenge (RFC 6750).", JsonSchemaType.String);
            }
        }
    }

    private static OpenApiResponse ProblemResponse(OpenApiDocument doc, int status, string? description, IReadOnlyList<string> codes) => new()
    {
        Description = (string.IsNullOrEmpty(description) || int.TryParse(description, out _) ? DescriptionOf(status.ToString(System.Globalization.CultureInfo.InvariantCulture)) : description)
                      + (codes.Count == 0 ? "" : " Codes: " + string.Join(", ", codes.Select(c => $"`{c}`")) + "."),
        Content = new Dictionary<string, OpenApiMediaType>
        {
            [Problems.ContentType] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, doc) },
        },
        // The same list for tools: a client can branch on these codes for this status of this operation.
        Extensions = codes.Count == 0 ? null : new Dictionary<string, IOpenApiExtension>
        {
            ["x-error-codes"] = new JsonNodeExtension(new JsonArray(codes.Select(c => (JsonNode)JsonValue.Create(c)).ToArray())),
        },
    };

    /// <summary>
    /// The problem codes an operation answers with a status: those of its kind (every authenticated route's 401s, every
    /// idempotent route's key conflicts, ...) and its own, from <see cref="ErrorCodes.All"/> by status.
    /// </summary>
    private static IReadOnlyList<string> CodesOf(Op op, int status, bool idempotent)
    {
        IEnumerable<string> common = status switch
        {
            400 => [ErrorCodes.ValidationFailed],
            401 => op.Anonymous ? [] : [ErrorCodes.Unauthorized, ErrorCodes.InvalidToken],
            404 => [ErrorCodes.NotFound],
            409 when idempotent => [ErrorCodes.IdempotencyRequestInProgress],
            412 => [ErrorCodes.PreconditionFailed],
            413 => [ErrorCodes.PayloadTooLarge],
            415 => [ErrorCodes.UnsupportedMediaType],
            422 when idempotent => [ErrorCodes.IdempotencyKeyReused],
            429 => [ErrorCodes.RateLimited],
            500 => [ErrorCodes.InternalError],
            503 => [ErrorCodes.Overloaded, ErrorCodes.ServiceUnavailable],
            _ => [],
        };
        var own = (op.Codes ?? []).Where(c => ErrorCodes.All.Single(i => i.Code == c).Status == status);
        return common.Concat(own).Distinct().ToList();
    }

    private static OpenApiHeader Header(string description, JsonSchemaType type, string[]? values = null) => new()
    {
        Description = description,
        Schema = new OpenApiSchema { Type = type, Enum = values?.Select(v => (JsonNode)JsonValue.Create(v)).ToList() },
    };

    internal static string DescriptionOf(string status) => status switch
    {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "Done; no body.",
        "400" => "The request is not valid (`errors` by field).",
        "401" => "Missing, malformed, expired or revoked token; or wrong client credentials on the token route.",
        "404" => "Unknown, deleted or another merchant's object.",
        "409" => "The object's state forbids this, or a request with this Idempotency-Key is still running.",
        "412" => "If-Match no longer matches the object's ETag.",
        "413" => "The body is larger than 64 KiB.",
        "415" => "The body is not application/json.",
        "422" => "An amount beyond what the object allows, or an Idempotency-Key reused for another request.",
        "429" => "Over the merchant's request rate (`rate_limited`; on the token route, too many failed attempts). Nothing was changed: retry after Retry-After with the same Idempotency-Key.",
        "500" => "An unexpected error (code internal_error); nothing about it is shown. Retry with the same Idempotency-Key.",
        "503" => "The gateway is at capacity (`overloaded`, nothing was changed) or a dependency is unavailable (`service_unavailable`). Retry after Retry-After with the same Idempotency-Key: it answers with the request's outcome, and nothing happens twice.",
        _ => "See the problem's code.",
    };

    private static IEnumerable<string> PathParameters(string path) =>
        path.Split('/').Where(s => s.StartsWith('{') && s.EndsWith('}')).Select(s => s[1..^1]);

    /// <summary>The one problem shape every error of the gateway has: RFC 9457 plus code, request_id and, where they apply, errors and error.</summary>
    private static OpenApiSchema Problem()
    {
        var codes = new JsonArray(ErrorCodes.All.Select(c => (JsonNode)JsonValue.Create(c.Code)).ToArray());
        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "An RFC 9457 problem. Branch on `code`: its values are listed in x-extensible-enum and more may be added, " +
                          "so treat an unknown code by its HTTP status. `type` links to the code's description on /docs/errors.",
            Required = new HashSet<string> { "type", "title", "status", "detail", "code" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri", Description = "The code's section of /docs/errors." },
                ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "400", Maximum = "599" },
                ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The request's path." },
                ["code"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    Description = "The stable machine code (see /docs/errors).",
                    Extensions = new Dictionary<string, IOpenApiExtension> { ["x-extensible-enum"] = new JsonNodeExtension(codes) },
                },
                ["request_id"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    // A replay returns the stored answer byte for byte, so its request_id is not the replay's Request-Id.
                    Description = "The id of the request that produced this answer: the Request-Id header's value, except on an idempotent " +
                                  "replay (Idempotent-Replayed: true), where it is the first request's id and the header carries the replay's own.",
                },
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Description = "validation_failed and card_data_in_field: the messages by field.",
                    AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                },
                ["error"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.String,
                    Description = "POST /v1/auth/token and /v1/auth/revoke only: the OAuth 2.0 error (RFC 6749 §5.2: `invalid_request`, " +
                                  "`invalid_client`, `unsupported_grant_type`), or `rate_limited` on a 429, for which OAuth 2.0 has none.",
                },
            },
        };
    }

    private static OpenApiSchema Event(OpenApiDocument doc, string? type = null, string? dataSchema = null) => new()
    {
        Type = JsonSchemaType.Object,
        Required = new HashSet<string> { "id", "type", "sequence", "created_at", "data" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Stable across redeliveries: deduplicate on it." },
            ["type"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Enum = type is null ? null : [JsonValue.Create(type)],
                Extensions = type is null
                    ? new Dictionary<string, IOpenApiExtension> { ["x-extensible-enum"] = new JsonNodeExtension(new JsonArray(WebhookEventTypes.All.Select(t => (JsonNode)JsonValue.Create(t)).ToArray())) }
                    : null,
            },
            ["sequence"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Description = "One more than the merchant's previous event." },
            ["created_at"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" },
            ["data"] = dataSchema is null
                ? new OpenApiSchema { Type = JsonSchemaType.Object, Description = "The object as the API shows it (a transaction or a tokenization intent)." }
                : new OpenApiSchemaReference(dataSchema, doc),
        },
    };

    private static OpenApiSchema EventList(OpenApiDocument doc) => new()
    {
        Type = JsonSchemaType.Object,
        Required = new HashSet<string> { "data", "has_more" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["data"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = Event(doc) },
            ["has_more"] = new OpenApiSchema { Type = JsonSchemaType.Boolean },
        },
    };

    /// <summary>What the gateway posts to a merchant's endpoint, one entry per event type.</summary>
    private static Dictionary<string, IOpenApiPathItem> Webhooks(OpenApiDocument doc)
    {
        var hooks = new Dictionary<string, IOpenApiPathItem>(StringComparer.Ordinal);
        foreach (var type in WebhookEventTypes.All)
        {
            var data = type.StartsWith("tokenization_intent.", StringComparison.Ordinal) ? "GetTokenizationIntentResponse" : "TransactionSnapshot";
            var operation = new OpenApiOperation
            {
                OperationId = "on" + string.Concat(type.Split('.', '_').Select(p => char.ToUpperInvariant(p[0]) + p[1..])),
                Summary = type,
                Description = "Posted to each endpoint that takes this type, in `sequence` order, at least once, retried for 3 days. " +
                              "Verify Payments-Signature over the raw body before parsing (docs/webhooks.md).",
                Tags = new HashSet<OpenApiTagReference> { new("Webhooks", doc) },
                Security = [new OpenApiSecurityRequirement()],
                Parameters =
                [
                    new OpenApiParameter
                    {
                        Name = "Payments-Signature",
                        In = ParameterLocation.Header,
                        Required = true,
                        Description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.\" + raw body with the endpoint's secret>`.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String, Pattern = "^t=[0-9]+,v1=[0-9a-f]{64}$" },
                    },
                ],
                RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = Event(doc, type, data) } },
                },
                Responses = new OpenApiResponses
                {
                    ["200"] = new OpenApiResponse { Description = "Any 2xx within 10 seconds, once the event is stored; anything else is retried." },
                },
            };
            hooks[type] = new OpenApiPathItem { Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Post] = operation } };
        }
        return hooks;
    }
}
