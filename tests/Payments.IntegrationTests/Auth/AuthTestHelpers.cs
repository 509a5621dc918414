using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.TestKit;

namespace Payments.IntegrationTests.Auth;

internal static class AuthTestHelpers
{
    public static async Task<HttpResponseMessage> PostTokenJsonAsync(this HttpClient http, string clientId, string secret) =>
        await http.PostAsJsonAsync("/v1/auth/token", new Dictionary<string, string> { ["client_id"] = clientId, ["client_secret"] = secret });

    /// <summary>POST /v1/auth/revoke with the token as bearer and no body: the simplest authenticated call.</summary>
    public static async Task<HttpResponseMessage> RevokeAsync(this GatewayFixture gateway, string bearer, HttpContent? body = null)
    {
        using var http = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/revoke") { Content = body };
        request.Headers.Authorization = AuthenticationHeaderValue.Parse("Bearer " + bearer);
        return await http.SendAsync(request);
    }

    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    public static async Task<long> CountAsync(this GatewayFixture gateway, string table)
    {
        var db = gateway.HostServices.GetRequiredService<NpgsqlDataSource>();
        await using var cmd = db.CreateCommand($"SELECT count(*) FROM {table}");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
