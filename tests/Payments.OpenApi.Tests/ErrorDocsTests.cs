using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Payments.BuildingBlocks.Http;

namespace Payments.OpenApi.Tests;

/// <summary>Problem types resolve: every code has a section on /docs/errors, and every problem's type points at it.</summary>
[Collection(OpenApiGatewayCollection.Name)]
public sealed class ErrorDocsTests(OpenApiGateway gateway)
{
    [Fact]
    public void Every_error_code_constant_is_documented_once()
    {
        var constants = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).Order().ToList();

        Assert.Equal(constants, ErrorCodes.All.Select(c => c.Code).Order().ToList());
    }

    [Fact]
    public async Task The_errors_page_has_an_anchor_per_code_and_a_problem_type_leads_to_it()
    {
        using var http = new HttpClient { BaseAddress = gateway.HostUrl };

        var page = await http.GetAsync("/docs/errors");
        var problem = await http.PostAsJsonAsync("/v1/auth/token", new { client_id = "cli_nobody", client_secret = "wrong" });

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.All(ErrorCodes.All, c => Assert.Contains($"id=\"{c.Code}\"", html, StringComparison.Ordinal));
        using var body = JsonDocument.Parse(await problem.Content.ReadAsStringAsync());
        var type = new Uri(body.RootElement.GetProperty("type").GetString()!);
        Assert.Equal(new Uri(gateway.HostUrl, "/docs/errors#invalid_client"), type);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(type)).StatusCode);
    }

    [Fact]
    public void The_problem_schema_lists_every_code_as_an_extensible_enum()
    {
        var problem = JsonNode.Parse(gateway.HostDocument)!["components"]!["schemas"]!["Problem"]!;

        var codes = problem["properties"]!["code"]!["x-extensible-enum"]!.AsArray().Select(c => c!.GetValue<string>());

        Assert.Equal(ErrorCodes.All.Select(c => c.Code), codes);
        Assert.Null(problem["additionalProperties"]);
    }
}
