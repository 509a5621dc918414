using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Payments.TestKit;

namespace Payments.IntegrationTests.Auth;

public sealed class BadTokenRequestTests(AuthFixture gateway) : IClassFixture<AuthFixture>
{
    [Fact]
    public async Task Unknown_client_and_wrong_secret_get_the_same_401_invalid_client()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();

        var wrongSecret = await http.PostTokenJsonAsync(merchant.ClientId, "sk_wrong");
        var unknown = await http.PostTokenJsonAsync("cli_UNKNOWN000000000000000000", "sk_wrong");

        var a = await AuthTestHelpers.ProblemAsync(wrongSecret, HttpStatusCode.Unauthorized);
        var b = await AuthTestHelpers.ProblemAsync(unknown, HttpStatusCode.Unauthorized);
        foreach (var field in new[] { "code", "error", "type", "title", "detail", "status" })
        {
            Assert.Equal(a.GetProperty(field).ToString(), b.GetProperty(field).ToString());
        }
        Assert.Equal("invalid_client", a.GetProperty("code").GetString());
        Assert.Equal("invalid_client", a.GetProperty("error").GetString());
        Assert.Equal(wrongSecret.Headers.WwwAuthenticate.ToString(), unknown.Headers.WwwAuthenticate.ToString());
        Assert.DoesNotContain("sk_wrong", await wrongSecret.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{}", "client_id")]
    [InlineData("{\"client_id\":\"cli_x\"}", "client_secret")]
    [InlineData("{\"client_secret\":\"sk_x\"}", "client_id")]
    [InlineData("{\"client_id\":\"cli_x\",\"client_secret\":\"sk_x\",\"scope\":\"all\"}", "scope")]
    [InlineData("{\"client_id\":1,\"client_secret\":\"sk_x\"}", "client_id")]
    [InlineData("[]", "body")]
    [InlineData("{\"client_id\":", "body")]
    // A NUL cannot be stored in PostgreSQL text: it reached the client lookup and came back a 500.
    [InlineData("{\"client_id\":\"\\u0000\",\"client_secret\":\"sk_x\"}", "client_id")]
    [InlineData("{\"client_id\":\"cli_x\\u0001\",\"client_secret\":\"sk_x\"}", "client_id")]
    [InlineData("{\"client_id\":\"cli_x\",\"client_secret\":\"sk_\\u0000\"}", "client_secret")]
    public async Task Json_with_missing_extra_or_mistyped_fields_is_400(string json, string field)
    {
        using var http = gateway.CreateClient();

        var response = await http.PostAsync("/v1/auth/token", new StringContent(json, Encoding.UTF8, "application/json"));

        var problem = await AuthTestHelpers.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
        Assert.Equal("invalid_request", problem.GetProperty("error").GetString());
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors lacks {field}");
    }

    [Theory]
    [InlineData("client_id=cli_x&client_secret=sk_x", "grant_type")]
    [InlineData("grant_type=client_credentials&client_secret=sk_x", "client_id")]
    [InlineData("grant_type=client_credentials&client_id=a&client_id=b&client_secret=sk_x", "client_id")]
    [InlineData("grant_type=password&client_id=cli_x&client_secret=sk_x", "grant_type")]
    [InlineData("grant_type=client_credentials&client_id=cli_%00&client_secret=sk_x", "client_id")]
    public async Task Form_with_missing_or_repeated_fields_or_another_grant_is_400(string form, string field)
    {
        using var http = gateway.CreateClient();

        var response = await http.PostAsync("/v1/auth/token",
            new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded"));

        var problem = await AuthTestHelpers.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors lacks {field}");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("multipart/form-data; boundary=x")]
    public async Task Other_content_types_are_415(string contentType)
    {
        using var http = gateway.CreateClient();
        var content = new StringContent("{\"client_id\":\"cli_x\",\"client_secret\":\"sk_x\"}");
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        var response = await http.PostAsync("/v1/auth/token", content);

        var problem = await AuthTestHelpers.ProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Equal("unsupported_media_type", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Json_labelled_as_form_and_form_labelled_as_json_are_400()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();

        var jsonAsForm = await http.PostAsync("/v1/auth/token", new StringContent(
            $"{{\"client_id\":\"{merchant.ClientId}\",\"client_secret\":\"{merchant.ClientSecret}\"}}", Encoding.UTF8, "application/x-www-form-urlencoded"));
        var formAsJson = await http.PostAsync("/v1/auth/token", new StringContent(
            $"grant_type=client_credentials&client_id={merchant.ClientId}&client_secret={merchant.ClientSecret}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, jsonAsForm.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, formAsJson.StatusCode);
    }

    [Fact]
    public async Task One_megabyte_body_is_413_for_token_and_revoke()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        using var http = gateway.CreateClient();
        var big = "{\"client_id\":\"" + new string('a', 1024 * 1024) + "\",\"client_secret\":\"x\"}";
        var revokedBefore = await gateway.CountAsync("auth.revoked_tokens");

        var token = await http.PostAsync("/v1/auth/token", new StringContent(big, Encoding.UTF8, "application/json"));
        var revoke = await merchant.Http.PostAsync("/v1/auth/revoke", new StringContent(big, Encoding.UTF8, "application/json"));

        Assert.Equal("payload_too_large", (await AuthTestHelpers.ProblemAsync(token, HttpStatusCode.RequestEntityTooLarge)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, revoke.StatusCode);
        Assert.Equal(revokedBefore, await gateway.CountAsync("auth.revoked_tokens"));
    }

    [Theory]
    [InlineData("Basic !!!not-base64")]
    [InlineData("Basic bm9jb2xvbg==")] // "nocolon"
    [InlineData("Basic OnNlY3JldA==")] // ":secret"
    [InlineData("Basic Y2xpX3g6")] // "cli_x:"
    [InlineData("Digest username=x")]
    public async Task Malformed_authorization_header_is_400_and_never_500(string header)
    {
        using var http = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/token");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        var response = await http.SendAsync(request);

        var problem = await AuthTestHelpers.ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("invalid_request", problem.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Basic_and_body_credentials_together_are_400()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/token")
        {
            Content = new StringContent($"{{\"client_id\":\"{merchant.ClientId}\",\"client_secret\":\"{merchant.ClientSecret}\"}}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{merchant.ClientId}:{merchant.ClientSecret}")));

        var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("text/plain", "{\"token\":\"x\"}", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/json", "{\"token\":\"x\",\"extra\":1}", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "{\"token\":null}", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "not json", HttpStatusCode.BadRequest)]
    public async Task Bad_revoke_bodies_are_refused_and_revoke_nothing(string contentType, string body, HttpStatusCode status)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var content = new StringContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        var response = await merchant.Http.PostAsync("/v1/auth/revoke", content);

        Assert.Equal(status, response.StatusCode);
        // The caller's own token still works: nothing was revoked.
        Assert.Equal(HttpStatusCode.NoContent, (await merchant.Http.PostAsync("/v1/auth/revoke", null)).StatusCode);
    }
}
