using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Payments.Client.Tests.EndToEnd;
using Payments.Host.Pipeline;
using Payments.TestKit;

namespace Payments.Client.Tests.OpenApi;

[Collection(LiveGatewayCollection.Name)]
public sealed partial class OpenApiExamplesTests(LiveGatewayFixture gateway)
{
    [Fact]
    public async Task Every_operation_in_the_document_carries_request_and_response_examples()
    {
        using var http = new HttpClient { BaseAddress = gateway.Host.BaseAddress };
        var response = await http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        var operations = new List<string>();
        var missing = new List<string>();
        foreach (var path in doc.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var op in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "patch" or "delete"))
            {
                var name = op.Name.ToUpperInvariant() + " " + path.Name;
                operations.Add(name);
                // A body that can only be {} (NoFields) has nothing to exemplify; the document writer drops an empty example.
                if (op.Value.TryGetProperty("requestBody", out var body)
                    && body.GetProperty("content").EnumerateObject().Any(c => !c.Value.TryGetProperty("example", out _)
                        && !(c.Value.TryGetProperty("schema", out var schema) && schema.TryGetProperty("$ref", out var reference)
                             && reference.GetString() == "#/components/schemas/NoFields")))
                {
                    missing.Add(name + ": request");
                }
                var withExample = 0;
                foreach (var answer in op.Value.GetProperty("responses").EnumerateObject())
                {
                    if (!answer.Value.TryGetProperty("content", out var content))
                    {
                        continue;
                    }
                    foreach (var media in content.EnumerateObject())
                    {
                        if (media.Value.TryGetProperty("example", out _))
                        {
                            withExample++;
                        }
                        else
                        {
                            missing.Add($"{name}: response {answer.Name} {media.Name}");
                        }
                    }
                }
                if (withExample == 0)
                {
                    missing.Add(name + ": no response example");
                }
            }
        }

        Assert.Contains("POST /v1/auth/token", operations);
        Assert.True(missing.Count == 0, "Operations without examples (add them to Host/Pipeline/OpenApiExamples.cs):\n" + string.Join('\n', missing));
    }

    [Fact]
    public void Every_route_of_the_contract_has_examples()
    {
        var contract = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "API.md"));
        var routes = ContractRoute().Matches(contract)
            .Select(m => OpenApiExamples.KeyOf(m.Groups[1].Value, m.Groups[2].Value.Split('?')[0]))
            .Distinct()
            // The card route is the Vault's, outside the Host's document.
            .Where(r => r != "POST /v1/tokenization-intents/{}/card")
            .ToList();

        Assert.True(routes.Count >= 24, $"only {routes.Count} routes read from docs/API.md");
        var without = routes.Where(r => !OpenApiExamples.ByRoute.ContainsKey(r)).ToList();
        Assert.True(without.Count == 0, "Contract routes without examples: " + string.Join(", ", without));
        Assert.All(OpenApiExamples.ByRoute, kv =>
        {
            Assert.NotEmpty(kv.Value.Responses);
            Assert.All(kv.Value.Responses.Values, json => JsonDocument.Parse(json).Dispose());
            if (kv.Value.Request is { } request)
            {
                JsonDocument.Parse(request).Dispose();
            }
        });
    }

    [Fact]
    public void Example_amounts_and_fields_follow_the_contract()
    {
        var create = JsonDocument.Parse(OpenApiExamples.ByRoute["POST /v1/transactions"].Responses["201"]).RootElement;
        var refund = JsonDocument.Parse(OpenApiExamples.ByRoute["POST /v1/transactions/{}/refunds"].Responses["201"]).RootElement;
        var fields = new[]
        {
            "trx_id", "type", "status", "order_amount", "currency", "captured_amount", "voided_amount", "settled_amount",
            "refunded_amount", "charged_back_amount", "order_id", "external_id", "payment_intent_id", "parent_trx_id", "card",
            "authorization_code", "decline_code", "created_at", "updated_at",
        };

        Assert.All(fields, f => Assert.True(create.TryGetProperty(f, out _), f));
        Assert.Equal("REFUND", refund.GetProperty("type").GetString());
        Assert.Equal(create.GetProperty("trx_id").GetString(), refund.GetProperty("parent_trx_id").GetString());
        Assert.Equal(JsonValueKind.Null, refund.GetProperty("external_id").ValueKind);
    }

    // `METHOD /path` as the contract writes its routes.
    [GeneratedRegex(@"`(GET|POST|DELETE|PUT|PATCH) (/[^`\s]*)")]
    private static partial Regex ContractRoute();
}
