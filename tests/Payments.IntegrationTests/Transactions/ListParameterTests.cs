using System.Net;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

public sealed class ListParameterTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private const string Range = "start_date=01/01/2024&end_date=01/02/2024";

    [Theory]
    [InlineData("start_date=32/01/2024&end_date=01/02/2024", "start_date")]
    [InlineData("start_date=2024-01-01&end_date=01/02/2024", "start_date")]
    [InlineData("start_date=01/01/2023&end_date=31/02/2023", "end_date")]
    [InlineData("start_date=02/01/2024&end_date=01/01/2024", "end_date")]
    [InlineData("end_date=01/02/2024", "start_date")]
    [InlineData("start_date=01/01/2024", "end_date")]
    [InlineData(Range + "&limit=abc", "limit")]
    [InlineData(Range + "&limit=1.5", "limit")]
    [InlineData(Range + "&offset=x", "offset")]
    [InlineData(Range + "&offset=--5", "offset")]
    [InlineData(Range + "&limit=1e3", "limit")]
    [InlineData(Range + "&sort_by=amount", "sort_by")]
    [InlineData(Range + "&sort_direction=up", "sort_direction")]
    [InlineData(Range + "&sort_direction=asc", "sort_direction")]
    [InlineData(Range + "&type=SALE", "type")]
    [InlineData(Range + "&status=FOO", "status")]
    [InlineData(Range + "&status=authorized", "status")]
    [InlineData(Range + "&as_of=yesterday", "as_of")]
    [InlineData(Range + "&as_of=2024-03-01", "as_of")]
    [InlineData(Range + "&as_of=2024-03-01T12:00:00", "as_of")]
    [InlineData(Range + "&as_of=03/01/2024%2012:00:00%20%2B00:00", "as_of")]
    public async Task A_bad_list_parameter_is_400_naming_the_parameter(string query, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, response) = await GetAsync(merchant.Http, "/v1/transactions?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("validation_failed", Code(body));
        Assert.NotNull(body!["errors"]![field]);
    }

    /// <summary>As an unknown body field is: a misspelt filter must not answer the unfiltered list.</summary>
    [Theory]
    [InlineData("/v1/transactions?" + Range + "&statuses=DECLINED", "statuses")]
    [InlineData("/v1/transactions?" + Range + "&Status=DECLINED", "Status")]
    [InlineData("/v1/transactions?" + Range + "&sort_dir=DESC", "sort_dir")]
    [InlineData("/v1/transactions/lookup?id_type=order_id&id=o-1&ID=o-2", "ID")]
    [InlineData("/v1/events?after_sequence=0&after=5", "after")]
    public async Task A_query_parameter_the_route_does_not_define_is_400_naming_it(string path, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await GetAsync(merchant.Http, path);

        Assert.True(status == HttpStatusCode.BadRequest, $"answered {(int)status}: {body}");
        Assert.Equal("validation_failed", Code(body));
        Assert.Equal("Unknown query parameter.", body!["errors"]![field]![0]!.GetValue<string>());
    }

    [Theory]
    [InlineData("", 0, 10)]
    [InlineData("&limit=-5&offset=-3", 0, 10)]
    [InlineData("&limit=10", 0, 10)]
    [InlineData("&limit=11&offset=7", 7, 11)]
    [InlineData("&limit=100", 0, 100)]
    [InlineData("&limit=101", 0, 100)]
    [InlineData("&limit=99999999999", 0, 100)]
    [InlineData("&limit=99999999999999999999&offset=-99999999999999999999", 0, 100)]
    [InlineData("&limit=-99999999999999999999&offset=%2B5", 5, 10)]
    [InlineData("&offset=99999999999999999999", long.MaxValue, 10)]
    public async Task Offset_and_limit_are_clamped_and_echoed(string extra, long offset, int limit)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await GetAsync(merchant.Http, "/v1/transactions?" + Range + extra);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(offset, Long(body, "offset"));
        Assert.Equal(limit, Long(body, "limit"));
        Assert.Equal(0, Long(body, "total"));
        Assert.Empty(body!["data"]!.AsArray());
        Assert.False(body["has_more"]!.GetValue<bool>());
        Assert.EndsWith("Z", Str(body, "as_of"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2024-01-15T12:00:00Z")]
    [InlineData("2024-01-15T17:00:00+05:00")]
    [InlineData("2024-01-15T11:00:00.000000-01:00")]
    public async Task An_as_of_at_any_offset_is_echoed_as_the_same_instant_in_utc(string asOf)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await GetAsync(merchant.Http, "/v1/transactions?" + Range + "&as_of=" + Uri.EscapeDataString(asOf));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("2024-01-15T12:00:00.000000Z", Str(body, "as_of"));
    }

    [Fact]
    public async Task Listing_without_a_token_is_401()
    {
        using var anonymous = gateway.CreateClient();

        var (status, _, _) = await GetAsync(anonymous, "/v1/transactions?" + Range);

        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Theory]
    [InlineData("/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644")]
    [InlineData("/v1/transactions/not-an-id")]
    [InlineData("/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG664")]
    [InlineData("/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644/history/verify")]
    [InlineData("/v1/payment-intents/pi_01J5XCMDXCFXCAQ1BV8HVG6644")]
    [InlineData("/v1/payment-intents/nope")]
    public async Task An_unknown_or_malformed_id_is_404(string path)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await GetAsync(merchant.Http, path);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", Code(body));
    }

    [Theory]
    [InlineData("id_type=external_id")]
    [InlineData("id=abc")]
    [InlineData("id_type=trx_id&id=abc")]
    [InlineData("id_type=external_id&id=")]
    public async Task A_bad_lookup_is_400(string query)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await GetAsync(merchant.Http, "/v1/transactions/lookup?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("validation_failed", Code(body));
    }

    [Fact]
    public async Task A_lookup_with_no_match_is_404()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await GetAsync(merchant.Http, "/v1/transactions/lookup?id_type=order_id&id=nothing");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", Code(body));
    }

    [Fact]
    public async Task Capture_of_an_unknown_transaction_is_404_and_a_bad_operation_400()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var unknown = await PostAsync(merchant.Http, "/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644", new { operation = "capture" });
        var bad = await PostAsync(merchant.Http, "/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644", new { operation = "refund" });
        var zero = await PostAsync(merchant.Http, "/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644", new { operation = "capture", amount = 0 });

        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal(HttpStatusCode.BadRequest, zero.Status);
    }
}
