using System.Net;
using System.Text.Json;
using Payments.TestKit;

namespace Payments.IntegrationTests.Foundation;

public sealed class HostBasicsTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task Live_and_ready_answer_200_when_postgres_and_redis_answer()
    {
        using var client = gateway.CreateClient();

        var live = await client.GetAsync("/health/live");
        var ready = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", body.RootElement.GetProperty("checks").GetProperty("postgresql").GetString());
        Assert.Equal("Healthy", body.RootElement.GetProperty("checks").GetProperty("redis").GetString());
        Assert.Equal("Healthy", body.RootElement.GetProperty("checks").GetProperty("vault").GetString());
    }

    [Fact]
    public async Task Vault_health_is_ready()
    {
        using var client = gateway.Vault.CreateClient();

        var ready = await client.GetAsync("/health/ready");

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task Unknown_route_is_a_problem_with_code_and_request_id()
    {
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/v1/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var requestId = Assert.Single(response.Headers.GetValues("Request-Id"));
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = problem.RootElement;
        Assert.Equal(404, root.GetProperty("status").GetInt32());
        Assert.Equal("not_found", root.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(root.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrEmpty(root.GetProperty("detail").GetString()));
        Assert.Equal(requestId, root.GetProperty("request_id").GetString());
    }

    [Theory]
    [InlineData("/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644", "no-store")] // a 404 the exception handler writes
    [InlineData("/v1/transactions?start_date=01/01/2020&end_date=01/01/2030", "no-store")]
    [InlineData("/v1/nothing-here", "no-store")]
    [InlineData("/health/live", null)]
    public async Task Answers_are_never_sniffed_and_merchant_API_answers_are_not_stored(string path, string? cacheControl)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var response = await merchant.Http.GetAsync(path);

        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        if (cacheControl is not null)
        {
            Assert.Contains(cacheControl, response.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("merchant-corr-42")]
    [InlineData("req_01JABCDEFGHJKMNPQRSTVWXYZ0")]
    [InlineData("req_<script>")]
    public async Task A_callers_request_id_is_never_the_answers(string sent)
    {
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        request.Headers.TryAddWithoutValidation("Request-Id", sent);

        var response = await client.SendAsync(request);

        // The gateway's own id: a caller could otherwise pass off another request's id (ADR 118).
        var answered = Assert.Single(response.Headers.GetValues("Request-Id"));
        Assert.NotEqual(sent, answered);
        Assert.Matches("^req_[0-9A-HJKMNP-TV-Z]{26}$", answered);
    }

    [Fact]
    public async Task A_callers_request_id_holding_a_card_number_is_replaced()
    {
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        request.Headers.Add("Request-Id", "order-4242424242424242");

        var response = await client.SendAsync(request);

        Assert.StartsWith("req_", Assert.Single(response.Headers.GetValues("Request-Id")), StringComparison.Ordinal);
    }
}
