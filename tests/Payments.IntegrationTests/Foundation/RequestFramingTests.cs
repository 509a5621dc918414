using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Foundation;

/// <summary>
/// How a body is framed, before what it says: its Content-Type, charset, byte order mark, content coding and size, and
/// the query's characters. A body the gateway cannot read as sent is refused, never taken for no body.
/// </summary>
public sealed class RequestFramingTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private async Task<(MerchantClient Merchant, string PaymentId)> CapturedPaymentAsync()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        return (merchant, Str(await AuthorizeAsync(merchant, token, amount: 1000, operation: "authcap"), "trx_id"));
    }

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> PostRawAsync(HttpClient http, string path, byte[] body,
        string? contentType, string? contentEncoding = null)
    {
        using var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        if (contentEncoding is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Encoding", contentEncoding);
        }
        using var response = await http.PostAsync(path, content);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Theory]
    [InlineData("application/json;;")]
    [InlineData("application/json, text/plain")]
    [InlineData("application/json/x")]
    [InlineData("application/json; charset=\"bogus")]
    public async Task A_Content_Type_that_cannot_be_read_is_415_and_the_partial_refund_is_not_made_a_full_one(string contentType)
    {
        var (merchant, paymentId) = await CapturedPaymentAsync();

        var (status, problem) = await PostRawAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds", """{"amount":100}"""u8.ToArray(), contentType);

        Assert.True(status == HttpStatusCode.UnsupportedMediaType, $"answered {(int)status}: {problem}");
        Assert.Equal("unsupported_media_type", Code(problem));
        Assert.Equal(0, Long((await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body, "refunded_amount"));
    }

    [Fact]
    public async Task A_content_coding_is_415()
    {
        var (merchant, paymentId) = await CapturedPaymentAsync();

        var (status, problem) = await PostRawAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds", """{"amount":100}"""u8.ToArray(),
            "application/json", contentEncoding: "gzip");

        Assert.True(status == HttpStatusCode.UnsupportedMediaType, $"answered {(int)status}: {problem}");
        Assert.Equal(0, Long((await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body, "refunded_amount"));
    }

    [Theory]
    [InlineData("application/json; charset=utf-7")]
    [InlineData("application/json; charset=UTF-7")]
    [InlineData("application/json; charset=cp1252")]
    public async Task A_charset_other_than_Unicode_is_refused_not_a_500(string contentType)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem) = await PostRawAsync(merchant.Http, "/v1/payment-intents", """{"amount":100,"currency":"USD","order_id":"o"}"""u8.ToArray(), contentType);

        Assert.True(status == HttpStatusCode.BadRequest, $"answered {(int)status}: {problem}");
        Assert.Equal("validation_failed", Code(problem));
    }

    [Theory]
    [InlineData("application/json; charset=\"utf-8\"", false)]
    [InlineData("application/json; charset=\"UTF-8\"", true)]
    [InlineData("application/json", true)]
    public async Task A_quoted_charset_and_a_byte_order_mark_are_read(string contentType, bool byteOrderMark)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var json = """{"amount":100,"currency":"USD","order_id":"o-bom"}"""u8.ToArray();
        var body = byteOrderMark ? [.. Encoding.UTF8.Preamble, .. json] : json;

        var (status, created) = await PostRawAsync(merchant.Http, "/v1/payment-intents", body, contentType);

        Assert.True(status == HttpStatusCode.Created, $"answered {(int)status}: {created}");
        Assert.Equal("o-bom", Str(created, "order_id"));
    }

    [Fact]
    public async Task A_UTF_16_body_with_its_byte_order_mark_is_read()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var body = Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("""{"amount":100,"currency":"USD","order_id":"o-16"}""")).ToArray();

        var (status, created) = await PostRawAsync(merchant.Http, "/v1/payment-intents", body, "application/json; charset=utf-16");

        Assert.True(status == HttpStatusCode.Created, $"answered {(int)status}: {created}");
    }

    [Theory]
    [InlineData("limit=1%00", "limit")]
    [InlineData("offset=0%00", "offset")]
    [InlineData("limit=5%01", "limit")]
    public async Task A_control_character_in_a_query_parameter_is_400_naming_it(string extra, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem, _) = await GetAsync(merchant.Http, "/v1/transactions?start_date=01/01/2020&end_date=01/01/2030&" + extra);

        Assert.True(status == HttpStatusCode.BadRequest, $"answered {(int)status}: {problem}");
        Assert.Equal("validation_failed", Code(problem));
        Assert.NotNull(problem!["errors"]?[field]);
    }

    /// <summary>A POST with no body at all: no Content-Type, no content (as <c>curl -X POST</c> sends it).</summary>
    private static async Task<(HttpStatusCode Status, JsonNode? Body)> PostNothingAsync(HttpClient http, string path,
        string? contentType = null, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (contentType is not null)
        {
            request.Content = new ByteArrayContent([]);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task A_tokenization_intent_posted_without_a_body_is_created()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, created) = await PostNothingAsync(merchant.Http, "/v1/tokenization-intents");

        Assert.True(status == HttpStatusCode.Created, $"answered {(int)status}: {created}");
        Assert.Equal("REQUIRES_CARD", Str(created, "status"));
        Assert.NotNull(Str(created, "client_secret"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/json")]
    public async Task A_refund_posted_without_a_body_refunds_all_that_remains_once(string? contentType)
    {
        var (merchant, paymentId) = await CapturedPaymentAsync();
        var key = Guid.NewGuid().ToString();

        var (status, refund) = await PostNothingAsync(merchant.Http, $"/v1/transactions/{paymentId}/refunds", contentType, key);
        var (again, replayed, response) = await SendAsync(merchant.Http, HttpMethod.Post, $"/v1/transactions/{paymentId}/refunds", new { }, key);

        Assert.True(status == HttpStatusCode.Created, $"answered {(int)status}: {refund}");
        Assert.Equal(1000, Long(refund, "order_amount"));
        // The same request as {}: replayed, not a second refund and not a key reused for another request.
        Assert.True(again == HttpStatusCode.Created, $"answered {(int)again}: {replayed}");
        Assert.Equal(Str(refund, "trx_id"), Str(replayed, "trx_id"));
        Assert.Equal("true", response.Headers.TryGetValues("Idempotent-Replayed", out var v) ? v.Single() : null);
        Assert.Equal(1000, Long((await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body, "refunded_amount"));
    }

    [Theory]
    [InlineData("/v1/payment-intents", "amount")]
    [InlineData("/v1/transactions", "operation")]
    [InlineData("/v1/webhook-endpoints", "url")]
    public async Task A_route_with_required_fields_posted_without_a_body_names_them_in_a_400(string path, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem) = await PostNothingAsync(merchant.Http, path);

        Assert.True(status == HttpStatusCode.BadRequest, $"answered {(int)status}: {problem}");
        Assert.Equal("validation_failed", Code(problem));
        Assert.NotNull(problem!["errors"]?[field]);
    }

    [Fact]
    public async Task A_capture_posted_without_a_body_is_a_400_naming_the_operation_and_captures_nothing()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var paymentId = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");

        var (status, problem) = await PostNothingAsync(merchant.Http, $"/v1/transactions/{paymentId}");

        Assert.True(status == HttpStatusCode.BadRequest, $"answered {(int)status}: {problem}");
        Assert.NotNull(problem!["errors"]?["operation"]);
        Assert.Equal(0, Long((await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}")).Body, "captured_amount"));
    }

    [Theory]
    [InlineData("""{"x":1}""", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("[1,2]", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("hello", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("this is not json", "text/plain", HttpStatusCode.UnsupportedMediaType)]
    public async Task A_route_that_takes_no_fields_refuses_a_body_with_some_and_acts_on_none(string body, string contentType, HttpStatusCode expected)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var intent = Str((await PostAsync(merchant.Http, "/v1/payment-intents", new { amount = 100, currency = "USD", order_id = "o-nf" })).Body, "id");

        foreach (var path in new[] { $"/v1/payment-intents/{intent}/cancel", "/v1/sandbox/settle", "/v1/events/evt_01J5XCMDXCFXCAQ1BV8HVG6644/redeliver" })
        {
            var (status, problem) = await PostRawAsync(merchant.Http, path, Encoding.UTF8.GetBytes(body), contentType);
            Assert.True(status == expected, $"{path} answered {(int)status}: {problem}");
            Assert.NotNull(Code(problem));
        }
        Assert.Equal("REQUIRES_PAYMENT_METHOD", Str((await GetAsync(merchant.Http, $"/v1/payment-intents/{intent}")).Body, "status"));
        // {} is no fields.
        var (canceled, answer) = await PostRawAsync(merchant.Http, $"/v1/payment-intents/{intent}/cancel", "{ }"u8.ToArray(), "application/json");
        Assert.True(canceled == HttpStatusCode.OK, $"answered {(int)canceled}: {answer}");
    }

    [Fact]
    public async Task A_body_over_64_KiB_without_a_Content_Type_is_413()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, problem) = await PostRawAsync(merchant.Http, "/v1/payment-intents", new byte[70_000], contentType: null);

        Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"answered {(int)status}: {problem}");
    }
}

/// <summary>A chunked body's limit is its own bytes, not its framing: Kestrel's count, which only a real socket has.</summary>
public sealed class ChunkedBodyTests(KestrelGatewayFixture gateway) : IClassFixture<KestrelGatewayFixture>
{
    /// <summary>Sends the body in 1 KiB chunks, as a streaming client does.</summary>
    private sealed class ChunkedContent(byte[] body) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var at = 0; at < body.Length; at += 1024)
            {
                await stream.WriteAsync(body.AsMemory(at, Math.Min(1024, body.Length - at)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private async Task<(HttpStatusCode Status, string Body)> PostChunkedAsync(int size)
    {
        var (status, body, _) = await SendChunkedAsync(size);
        return (status, body);
    }

    private async Task<(HttpStatusCode Status, string Body, System.Net.Http.Headers.HttpResponseHeaders Headers)> SendChunkedAsync(int size)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var head = Encoding.UTF8.GetBytes("{\"amount\":100,\"currency\":\"USD\",\"order_id\":\"o-chunked\"");
        var body = head.Concat(Enumerable.Repeat((byte)' ', size - head.Length - 1)).Append((byte)'}').ToArray();
        using var http = new HttpClient { BaseAddress = gateway.Host.BaseAddress };
        using var content = new ChunkedContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/payment-intents") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", merchant.AccessToken);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    private static void AssertStatus(HttpStatusCode expected, (HttpStatusCode Status, string Body) answer) =>
        Assert.True(answer.Status == expected, $"expected {(int)expected}, answered {(int)answer.Status}: {answer.Body}");

    [Fact]
    public async Task A_chunked_body_within_64_KiB_is_read_whatever_its_framing_adds()
    {
        AssertStatus(HttpStatusCode.Created, await PostChunkedAsync(65_100));
        AssertStatus(HttpStatusCode.Created, await PostChunkedAsync(64 * 1024));
    }

    [Fact]
    public async Task A_chunked_body_over_64_KiB_is_413_with_the_merchants_rate_limit_headers()
    {
        var (status, body, headers) = await SendChunkedAsync(64 * 1024 + 1);

        AssertStatus(HttpStatusCode.RequestEntityTooLarge, (status, body));
        // An answer of a limited route, like a 413 for a declared length: it carries the limit's headers (the contract).
        Assert.True(headers.Contains("RateLimit-Policy") && headers.Contains("RateLimit"), $"no RateLimit headers: {headers}");
    }
}
