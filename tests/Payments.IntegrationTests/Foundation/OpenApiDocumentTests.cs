using System.Net;
using System.Text.Json;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Payments.TestKit;

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

    [Fact]
    public async Task The_reference_page_is_served()
    {
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/reference/v1");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("text/html", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
    }
}
