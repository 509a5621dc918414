using System.Net;
using System.Text;

namespace Payments.Client.Tests.Unit;

/// <summary>A local HTTP stand-in: answers from a script and records what the client sent.</summary>
internal sealed class FakeHandler(Func<FakeHandler.Sent, int, HttpResponseMessage> answer) : HttpMessageHandler
{
    private int calls;

    public sealed record Sent(HttpMethod Method, Uri Uri, IReadOnlyDictionary<string, string> Headers, string? Body);

    public List<Sent> Requests { get; } = [];

    public List<Sent> ApiRequests => Requests.Where(r => !r.Uri.AbsolutePath.EndsWith("/auth/token", StringComparison.Ordinal)).ToList();

    /// <summary>Set to make the next N sends throw as a dropped connection would.</summary>
    public int FailConnections { get; set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        var sent = new Sent(request.Method, request.RequestUri!, headers, body);
        Requests.Add(sent);
        if (FailConnections > 0)
        {
            FailConnections--;
            throw new HttpRequestException("connection reset");
        }
        if (request.RequestUri!.AbsolutePath.EndsWith("/v1/auth/token", StringComparison.Ordinal))
        {
            return Json(HttpStatusCode.OK, $$"""{"access_token":"tok-{{Requests.Count(r => r.Uri.AbsolutePath.EndsWith("/v1/auth/token", StringComparison.Ordinal))}}","token_type":"Bearer","expires_in":900}""");
        }
        return answer(sent, calls++);
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string json, Action<HttpResponseMessage>? configure = null)
    {
        var response = new HttpResponseMessage(status)
        {
            Content = new StringContent(json, Encoding.UTF8, (int)status >= 400 ? "application/problem+json" : "application/json"),
        };
        response.Headers.TryAddWithoutValidation("Request-Id", "req_test");
        configure?.Invoke(response);
        return response;
    }

    public static HttpResponseMessage Problem(int status, string code, string? extra = null) =>
        Json((HttpStatusCode)status, $$"""{"type":"https://docs.payments.example/errors#{{code}}","title":"t","status":{{status}},"detail":"d","code":"{{code}}","request_id":"req_{{status}}"{{extra}}}""");

    public const string TransactionJson = """
        {"trx_id":"trx_1","type":"PAYMENT","status":"CAPTURED","order_amount":1050,"currency":"USD","captured_amount":1050,
         "voided_amount":0,"settled_amount":0,"refunded_amount":0,"charged_back_amount":0,"order_id":"o-1","external_id":null,
         "payment_intent_id":null,"parent_trx_id":null,"card":{"brand":"VISA","last4":"4242"},"authorization_code":"A1",
         "decline_code":null,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","new_field":1}
        """;

    public static PaymentsClient ClientOver(FakeHandler handler, TimeProvider? clock = null, int maxRetries = 3, string baseAddress = "http://gateway.test/") =>
        new(new PaymentsClientOptions
        {
            BaseAddress = new Uri(baseAddress),
            ClientId = "cli_1",
            ClientSecret = "secret",
            MaxRetries = maxRetries,
            RetryBaseDelay = TimeSpan.Zero,
            MaxRetryDelay = TimeSpan.Zero,
            TimeProvider = clock ?? TimeProvider.System,
        }, new HttpClient(handler));
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}
