using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Foundation;

/// <summary>
/// A route is served only as the contract spells it (case, no trailing slash) and with the query parameters it
/// defines; everything else is refused before the route acts, so nothing happens under a spelling or a parameter the
/// merchant did not mean.
/// </summary>
public sealed class PathAndQueryTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Theory]
    [InlineData("/v1/payment-intents/")]
    [InlineData("/V1/payment-intents")]
    [InlineData("/v1/Payment-Intents")]
    public async Task Another_spelling_of_a_path_is_an_unknown_route_and_creates_nothing(string path)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var order = "spelling-" + Guid.NewGuid().ToString("N")[..8];

        var (status, body, _) = await PostAsync(merchant.Http, path, new { amount = 500, currency = "EUR", order_id = order });

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", Code(body));
        await using var count = gateway.HostServices.GetRequiredService<NpgsqlDataSource>()
            .CreateCommand("SELECT count(*) FROM intents.payment_intents WHERE order_id = $1");
        count.Parameters.AddWithValue(order);
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Theory]
    [InlineData("GET", "/v1/payment-intents/", 404)]
    [InlineData("GET", "/V1/payment-intents", 404)]
    [InlineData("DELETE", "/v1/Transactions", 404)]
    [InlineData("GET", "/v1/payment-intents", 405)]
    [InlineData("DELETE", "/v1/transactions", 405)]
    public async Task A_method_a_route_does_not_take_is_405_only_under_the_routes_own_spelling(string method, string path, int expected)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        using var answer = await merchant.Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(expected, (int)answer.StatusCode);
    }

    [Fact]
    public async Task A_retry_under_the_contracts_spelling_replays_the_first_answer()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var key = Guid.NewGuid().ToString("N");
        var request = new { amount = 77, currency = "USD", order_id = "pv-" + key[..8] };

        var first = await PostAsync(merchant.Http, "/v1/payment-intents", request, key);
        var mistyped = await PostAsync(merchant.Http, "/v1/payment-intents/", request, key);
        var retry = await PostAsync(merchant.Http, "/v1/payment-intents", request, key);

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.NotFound, mistyped.Status);
        Assert.Equal(HttpStatusCode.Created, retry.Status);
        Assert.Equal("true", Assert.Single(retry.Response.Headers.GetValues("Idempotent-Replayed")));
    }

    [Fact]
    public async Task A_query_parameter_a_route_does_not_define_is_400_and_the_route_does_not_act()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (created, intent, _) = await PostAsync(merchant.Http, "/v1/payment-intents", new { amount = 500, currency = "EUR", order_id = "q-" + Guid.NewGuid().ToString("N")[..8] });
        Assert.Equal(HttpStatusCode.Created, created);
        var id = Str(intent, "id");

        var cancel = await PostAsync(merchant.Http, $"/v1/payment-intents/{id}/cancel?statuses=x", null);
        var read = await GetAsync(merchant.Http, $"/v1/payment-intents/{id}?expand=transaction");
        var settle = await PostAsync(merchant.Http, "/v1/sandbox/settle?dry_run=true", null);

        foreach (var (status, body, _) in new[] { cancel, read, settle })
        {
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("validation_failed", Code(body));
        }
        Assert.Equal("Unknown query parameter.", cancel.Body!["errors"]!["statuses"]![0]!.GetValue<string>());
        Assert.NotNull(read.Body!["errors"]!["expand"]);
        Assert.NotNull(settle.Body!["errors"]!["dry_run"]);
        var (_, after, _) = await GetAsync(merchant.Http, $"/v1/payment-intents/{id}");
        Assert.NotEqual("CANCELED", Str(after, "status"));
    }

    [Fact]
    public async Task The_token_route_ignores_parameters_it_does_not_know_as_OAuth_requires()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();

        using var form = await http.PostAsync("/v1/auth/token?audience=payments", new StringContent(
            $"grant_type=client_credentials&client_id={merchant.ClientId}&client_secret={merchant.ClientSecret}&audience=payments&resource=x",
            Encoding.UTF8, "application/x-www-form-urlencoded"));
        using var json = await http.PostAsync("/v1/auth/token", new StringContent(
            $$"""{"grant_type":"client_credentials","client_id":"{{merchant.ClientId}}","client_secret":"{{merchant.ClientSecret}}"}""",
            Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, form.StatusCode);
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
    }

    [Fact]
    public async Task Every_json_route_reads_a_byte_order_mark_and_a_json_suffix_type_alike()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();
        var credentials = $$"""{"client_id":"{{merchant.ClientId}}","client_secret":"{{merchant.ClientSecret}}"}""";
        var bom = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(credentials)).ToArray();
        using var withBom = new ByteArrayContent(bom);
        withBom.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var suffixed = new StringContent(credentials, Encoding.UTF8);
        suffixed.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.payments+json");

        using var first = await http.PostAsync("/v1/auth/token", withBom);
        using var second = await http.PostAsync("/v1/auth/token", suffixed);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);

        var client = await gateway.CreateMerchantClientAsync();
        using var latin = new StringContent("{}", Encoding.UTF8);
        latin.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json; charset=iso-8859-1");
        using var settle = await client.Http.PostAsync("/v1/sandbox/settle", latin);
        Assert.Equal(HttpStatusCode.BadRequest, settle.StatusCode);
    }

    [Fact]
    public async Task A_token_is_revoked_by_an_RFC_7009_form_too()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var other = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);

        using var revoke = await merchant.Http.PostAsync("/v1/auth/revoke", new StringContent(
            $"token={other}&token_type_hint=access_token", Encoding.UTF8, "application/x-www-form-urlencoded"));
        using var http = gateway.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", other);
        using var after = await http.GetAsync("/v1/webhook-endpoints");

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task A_405_lists_HEAD_beside_GET()
    {
        using var http = gateway.CreateClient();

        using var answer = await http.DeleteAsync("/.well-known/jwks.json");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.StatusCode);
        var allowed = answer.Content.Headers.Allow.ToList();
        Assert.Contains("GET", allowed);
        Assert.Contains("HEAD", allowed);
    }
}
