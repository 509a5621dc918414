using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
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
    public void The_integration_guide_error_table_lists_exactly_the_codes_the_gateway_answers()
    {
        // Rows of the guide's error table: | 503 | `overloaded` | What to do |, several codes to a row at times.
        var guide = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, "docs", "integration-guide.md"));
        var listed = guide
            .Select(line => Regex.Match(line, @"^\| (?<status>[1-5][0-9]{2}) \| (?<codes>[^|]+) \|"))
            .Where(m => m.Success)
            .SelectMany(m => Regex.Matches(m.Groups["codes"].Value, "`([a-z_]+)`").Select(c => $"{m.Groups["status"].Value} {c.Groups[1].Value}"))
            .Order().ToList();

        Assert.Equal(ErrorCodes.All.Select(c => $"{c.Status} {c.Code}").Order().ToList(), listed);
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
