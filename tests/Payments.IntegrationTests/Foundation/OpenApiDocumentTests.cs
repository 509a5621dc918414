using System.Net;
using System.Text.Json;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Foundation;

public sealed class OpenApiDocumentTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task The_document_is_valid_openapi_3()
    {
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        Assert.StartsWith("3.", doc.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        Assert.Equal("Payments API", doc.RootElement.GetProperty("info").GetProperty("title").GetString());

        var result = OpenApiDocument.Parse(text, "json");
        Assert.Empty(result.Diagnostic?.Errors ?? []);
    }

    [Theory]
    [InlineData("/v1/payment-intents", "post", true)]
    [InlineData("/v1/tokenization-intents", "post", true)]
    [InlineData("/v1/transactions", "post", true)]
    [InlineData("/v1/transactions/{trx_id}", "post", true)]
    [InlineData("/v1/transactions/{trx_id}/refunds", "post", true)]
    [InlineData("/v1/transactions", "get", false)]
    public async Task Routes_that_honour_an_idempotency_key_document_the_header(string path, string method, bool documented)
    {
        using var client = gateway.CreateClient();
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));

        var operation = doc.RootElement.GetProperty("paths").GetProperty(path).GetProperty(method);
        var headers = operation.TryGetProperty("parameters", out var ps)
            ? ps.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "header").Select(p => p.GetProperty("name").GetString()).ToList()
            : [];
        Assert.Equal(documented, headers.Contains("Idempotency-Key"));
    }

    [Theory]
    [InlineData("AuthorizeRequest", "AUTHORIZE")]
    [InlineData("CaptureVoidRequest", "CAPTURE")]
    public async Task Operation_keeps_its_canonical_lowercase_enum_and_says_any_case_is_accepted(string schema, string upper)
    {
        var operation = (await SchemasAsync()).GetProperty(schema).GetProperty("properties").GetProperty("operation");

        Assert.All(operation.GetProperty("enum").EnumerateArray(), v => Assert.DoesNotContain(v.GetString()!, char.IsUpper));
        var description = operation.GetProperty("description").GetString();
        Assert.Contains("any case", description, StringComparison.Ordinal);
        Assert.Contains(upper, description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replayed_problem_keeps_the_first_request_id_and_the_document_says_so()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var body = new { amount = 100, currency = "EUR", order_id = "order-replay", card_token = "tok_01J5XCMDXCFXCAQ1BV8HVG6644" };
        var key = Guid.NewGuid().ToString("N");

        var first = await PostAsync(merchant.Http, "/v1/payment-intents", body, key);
        var replay = await PostAsync(merchant.Http, "/v1/payment-intents", body, key);

        Assert.Equal(HttpStatusCode.NotFound, replay.Status);
        Assert.Equal("true", Assert.Single(replay.Response.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(Str(first.Body, "request_id"), Str(replay.Body, "request_id"));
        Assert.NotEqual(Assert.Single(replay.Response.Headers.GetValues("Request-Id")), Str(replay.Body, "request_id"));
        var description = (await SchemasAsync()).GetProperty("Problem").GetProperty("properties").GetProperty("request_id").GetProperty("description").GetString();
        Assert.Contains("Idempotent-Replayed", description, StringComparison.Ordinal);
        Assert.Contains("first request", description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/transactions/{trx_id}")]
    [InlineData("/v1/transactions/{trx_id}/refunds")]
    public async Task If_match_is_described_as_a_list_of_strong_tags(string path)
    {
        using var client = gateway.CreateClient();
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));

        var ifMatch = doc.RootElement.GetProperty("paths").GetProperty(path).GetProperty("post").GetProperty("parameters")
            .EnumerateArray().Single(p => p.GetProperty("name").GetString() == "If-Match");

        var description = ifMatch.GetProperty("description").GetString();
        Assert.Contains("RFC 9110", description, StringComparison.Ordinal);
        Assert.Contains("weak", description, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("`*`", description, StringComparison.Ordinal);
    }

    private async Task<JsonElement> SchemasAsync()
    {
        using var client = gateway.CreateClient();
        using var doc = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        return doc.RootElement.GetProperty("components").GetProperty("schemas").Clone();
    }

    [Fact]
    public async Task The_reference_page_is_served()
    {
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/reference/v1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("text/html", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        // Nothing of the page goes to a third party: the vendor's fonts CDN and its AI chat and MCP are off.
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"withDefaultFonts\":false", page, StringComparison.Ordinal);
        Assert.Contains("\"agent\":{\"disabled\":true}", page, StringComparison.Ordinal);
        Assert.Contains("\"mcp\":{\"disabled\":true", page, StringComparison.Ordinal);
    }
}
