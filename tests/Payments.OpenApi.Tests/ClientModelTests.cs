using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Payments.Client;

namespace Payments.OpenApi.Tests;

/// <summary>
/// The hand-written Clients/Payments.Client against the served document: every field a model reads or writes is a
/// field of the schema it stands for (wire names as the client serializes them, snake_case).
/// </summary>
[Collection(OpenApiGatewayCollection.Name)]
public sealed class ClientModelTests(OpenApiGateway gateway)
{
    public static TheoryData<string, string> Models => new()
    {
        { nameof(AccessToken), "TokenResponse" },
        // One client class for the card on a transaction (CardSummary) and on a tokenization intent (CardView).
        { nameof(CardSummary), "CardSummary|CardView" },
        { nameof(CreateTokenizationIntentRequest), "CreateTokenizationIntentRequest" },
        { nameof(TokenizationIntent), "CreateTokenizationIntentResponse|GetTokenizationIntentResponse" },
        { nameof(CreatePaymentIntentRequest), "CreatePaymentIntentRequest" },
        { nameof(PaymentIntent), "PaymentIntentResponse" },
        { nameof(CreateTransactionRequest), "AuthorizeRequest" },
        { nameof(HistoryEntry), "HistoryEntry" },
        { nameof(Transaction), "TransactionSnapshot" },
        { nameof(CreateRefundRequest), "CreateRefundRequest" },
        { nameof(TransactionPage), "ListTransactionsResponse" },
        { nameof(HistoryVerification), "VerifyHistoryResponse" },
        { nameof(ExpireAuthorizationsResult), "ExpireAuthorizationsResponse" },
        { nameof(SettlementResult), "SettleResponse" },
        { nameof(CreateChargebackRequest), "ChargebackRequest" },
        { nameof(CreateWebhookEndpointRequest), "CreateEndpointRequest" },
        { nameof(WebhookEndpoint), "EndpointResponse" },
        { nameof(ApiProblem), "Problem" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Client_model_fields_are_fields_of_the_documented_schema(string model, string schemas)
    {
        var schemaNodes = JsonNode.Parse(gateway.HostDocument)!["components"]!["schemas"]!;
        var documented = schemas.Split('|')
            .SelectMany(s => schemaNodes[s]?["properties"]?.AsObject().Select(p => p.Key) ?? throw new InvalidOperationException($"no schema {s}"))
            .ToHashSet();

        var fields = WireNames(typeof(PaymentsClient).Assembly.GetType("Payments.Client." + model, throwOnError: true)!);
        if (model == nameof(ApiProblem))
        {
            // Read from the Retry-After header, which the document declares on 429 and 503 answers.
            Assert.NotNull(JsonNode.Parse(gateway.HostDocument)!["paths"]!["/v1/auth/token"]!["post"]!["responses"]!["429"]!["headers"]!["Retry-After"]);
            fields.Remove("retry_after");
        }

        Assert.NotEmpty(fields);
        var unknown = fields.Where(f => !documented.Contains(f)).ToList();
        Assert.True(unknown.Count == 0, $"{model} has fields the document's {schemas} does not: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void The_list_request_uses_only_documented_query_parameters()
    {
        var operation = JsonNode.Parse(gateway.HostDocument)!["paths"]!["/v1/transactions"]!["get"]!;
        var documented = operation["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).ToHashSet();

        var fields = WireNames(typeof(ListTransactionsRequest));

        var unknown = fields.Where(f => !documented.Contains(f)).ToList();
        Assert.True(unknown.Count == 0, "ListTransactionsRequest has query fields the document does not: " + string.Join(", ", unknown));
    }

    private static List<string> WireNames(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name))
            .ToList();
}
