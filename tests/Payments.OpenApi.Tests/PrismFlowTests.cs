using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Payments.OpenApi.Tests;

/// <summary>
/// One black-box run over every operation of both documents, success and error answers, through Prism validating
/// proxies: any request or answer that disagrees with the served document fails the test. No races or timing here
/// (they stay in the integration and reliability suites).
/// </summary>
[Collection(OpenApiGatewayCollection.Name)]
public sealed class PrismFlowTests(OpenApiGateway gateway)
{
    private readonly List<string> failures = [];
    private readonly HashSet<string> covered = [];

    [Fact]
    public async Task Every_operation_answers_as_the_document_says_through_a_validating_proxy()
    {
        try
        {
            await FlowAsync();
        }
        catch (Exception e) when (failures.Count > 0 && e is not Xunit.Sdk.XunitException)
        {
            Assert.Fail("Through Prism:\n" + string.Join("\n", failures) + "\nthen " + e);
        }
    }

    private async Task FlowAsync()
    {
        await using var hostProxy = await Prism.StartAsync(gateway.HostDocumentPath, gateway.HostUrl);
        await using var vaultProxy = await Prism.StartAsync(gateway.VaultDocumentPath, gateway.VaultUrl);
        using var anon = new HttpClient { BaseAddress = hostProxy.Url };
        using var vault = new HttpClient { BaseAddress = vaultProxy.Url };

        var token = await Call(anon, "POST", "/v1/auth/token", 200, new { client_id = gateway.ClientId, client_secret = gateway.ClientSecret });
        await Call(anon, "POST", "/v1/auth/token", 401, new { client_id = gateway.ClientId, client_secret = "sk_wrong" });
        await Call(anon, "GET", "/.well-known/jwks.json", 200);
        using var http = new HttpClient { BaseAddress = hostProxy.Url };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token!["access_token"]!.GetValue<string>());

        // Tokenization, with the card posted to the Vault through its own document's proxy.
        var intent = await Call(http, "POST", "/v1/tokenization-intents", 201, new { metadata = new { customer = "cus_1" } });
        var intentId = intent!["id"]!.GetValue<string>();
        var secret = intent["client_secret"]!.GetValue<string>();
        await Call(vault, "POST", $"/v1/tokenization-intents/{intentId}/card", 400,
            new { client_secret = secret, number = "4242424242424241", exp_month = 12, exp_year = DateTime.UtcNow.Year + 2, cvc = "123" });
        await Call(vault, "POST", $"/v1/tokenization-intents/{intentId}/card", 201,
            new { client_secret = secret, number = "4242424242424242", exp_month = 12, exp_year = DateTime.UtcNow.Year + 2, cvc = "123", holder_name = "Test Holder" });
        await Call(vault, "POST", $"/v1/tokenization-intents/{intentId}/card", 409,
            new { client_secret = secret, number = "4242424242424242", exp_month = 12, exp_year = DateTime.UtcNow.Year + 2, cvc = "123" });
        await Call(vault, "POST", "/v1/tokenization-intents/tki_unknown/card", 404,
            new { client_secret = "x", number = "4242424242424242", exp_month = 12, exp_year = DateTime.UtcNow.Year + 2, cvc = "123" });
        var done = await Call(http, "GET", $"/v1/tokenization-intents/{intentId}", 200);
        var card = done!["card_token"]!.GetValue<string>();
        await Call(http, "GET", "/v1/tokenization-intents/tki_unknown", 404);
        await Call(http, "POST", "/v1/tokenization-intents", 400, new { metadata = new { note = "4242424242424242" } });

        // Payment intents.
        var order = "oa-" + Guid.NewGuid().ToString("N")[..10];
        var pi = await Call(http, "POST", "/v1/payment-intents", 201, new { amount = 700, currency = "EUR", order_id = order + "-pi", card_token = card });
        var piId = pi!["id"]!.GetValue<string>();
        await Call(http, "GET", $"/v1/payment-intents/{piId}", 200);
        await Call(http, "POST", $"/v1/payment-intents/{piId}/cancel", pi["status"]!.GetValue<string>() == "SUCCEEDED" ? 409 : 200);
        await Call(http, "GET", "/v1/payment-intents/pi_unknown", 404);
        await Call(http, "POST", "/v1/payment-intents", 400, new { amount = 700, currency = "XXX", order_id = order, card_token = card });

        // Transactions: authorize (with an idempotent replay and a reused key), read, look up, list, capture, void.
        var authorize = new { operation = "authorize", amount = 1050, currency = "USD", card_token = card, order_id = order, external_id = order + "-x" };
        var key = Guid.NewGuid().ToString("N");
        var trx = await Call(http, "POST", "/v1/transactions", 201, authorize, ("Idempotency-Key", key));
        var trxId = trx!["trx_id"]!.GetValue<string>();
        var replayed = await Send(http, "POST", "/v1/transactions", 201, authorize, ("Idempotency-Key", key));
        Check(replayed.Headers.TryGetValues("Idempotent-Replayed", out var r) && r.Single() == "true", "the replay carries Idempotent-Replayed: true");
        await Call(http, "POST", "/v1/transactions", 422, authorize with { amount = 1051 }, ("Idempotency-Key", key));
        await Call(http, "POST", "/v1/transactions", 409, authorize);
        await Call(http, "POST", "/v1/transactions", 404, authorize with { card_token = "tok_unknown", external_id = order + "-y" });
        // Not amount 0: the document now bounds amounts, so Prism would refuse it before the gateway saw it.
        await Call(http, "POST", "/v1/transactions", 400, authorize with { currency = "XXX" });
        var read = await Send(http, "GET", $"/v1/transactions/{trxId}", 200, null);
        var etag = read.Headers.ETag?.Tag;
        Check(etag is not null, "GET transaction carries an ETag");
        await Call(http, "GET", "/v1/transactions/trx_unknown", 404);
        await Call(http, "GET", $"/v1/transactions/lookup?id_type=order_id&id={order}", 200);
        await Call(http, "GET", "/v1/transactions/lookup?id_type=external_id&id=nothing-here", 404);
        var today = DateTime.UtcNow.ToString("dd/MM/yyyy", System.Globalization.CultureInfo.InvariantCulture);
        var tomorrow = DateTime.UtcNow.AddDays(1).ToString("dd/MM/yyyy", System.Globalization.CultureInfo.InvariantCulture);
        var page = await Call(http, "GET", $"/v1/transactions?start_date={today}&end_date={tomorrow}&limit=5&sort_by=created_at&sort_direction=DESC", 200);
        await Call(http, "GET", $"/v1/transactions?start_date={today}&end_date={tomorrow}&limit=5&as_of={Uri.EscapeDataString(page!["as_of"]!.GetValue<string>())}", 200);
        await Call(http, "GET", $"/v1/transactions?start_date={tomorrow}&end_date={today}", 400);
        await Call(http, "POST", $"/v1/transactions/{trxId}", 422, new { operation = "capture", amount = 5000 });
        await Call(http, "POST", $"/v1/transactions/{trxId}", 200, new { operation = "capture", amount = 600 }, ("If-Match", etag ?? ""));
        await Call(http, "POST", $"/v1/transactions/{trxId}", 412, new { operation = "capture", amount = 100 }, ("If-Match", etag ?? ""));
        await Call(http, "POST", $"/v1/transactions/{trxId}", 200, new { operation = "void" });
        await Call(http, "POST", $"/v1/transactions/{trxId}", 409, new { operation = "void" });
        await Call(http, "POST", "/v1/transactions/trx_unknown", 404, new { operation = "void" });
        await Call(http, "GET", $"/v1/transactions/{trxId}/history/verify", 200);
        await Call(http, "GET", "/v1/transactions/trx_unknown/history/verify", 404);

        // Refunds.
        await Call(http, "POST", $"/v1/transactions/{trxId}/refunds", 201, new { amount = 200, reason = "returned" });
        await Call(http, "POST", $"/v1/transactions/{trxId}/refunds", 422, new { amount = 5000 });
        await Call(http, "POST", "/v1/transactions/trx_unknown/refunds", 404, new { amount = 100 });
        var fresh = await Call(http, "POST", "/v1/transactions", 201, authorize with { external_id = order + "-z" });
        await Call(http, "POST", $"/v1/transactions/{fresh!["trx_id"]!.GetValue<string>()}/refunds", 409, new { amount = 100 });

        // Sandbox.
        var captured = await Call(http, "POST", "/v1/transactions", 201, authorize with { operation = "authcap", external_id = order + "-c" });
        var capturedId = captured!["trx_id"]!.GetValue<string>();
        await Call(http, "POST", "/v1/sandbox/chargebacks", 201, new { trx_id = capturedId, amount = 300, reason_code = "10.4" });
        await Call(http, "POST", "/v1/sandbox/chargebacks", 422, new { trx_id = capturedId, amount = 5000, reason_code = "10.4" });
        await Call(http, "POST", "/v1/sandbox/expire-authorizations", 200, new { as_of = DateTime.UtcNow.AddDays(30).ToString("O") });
        await Call(http, "POST", "/v1/sandbox/settle", 200);

        // Webhooks: endpoints, the event log (filled asynchronously from the outbox), redelivery.
        var endpoint = await Call(http, "POST", "/v1/webhook-endpoints", 201, new { url = "http://127.0.0.1:9/hooks", enabled_events = new[] { "*" } });
        await Call(http, "POST", "/v1/webhook-endpoints", 400, new { url = "not a url", enabled_events = new[] { "*" } });
        await Call(http, "GET", "/v1/webhook-endpoints", 200);
        var events = await EventsAsync(http);
        await Call(http, "POST", $"/v1/events/{events[0]!["id"]!.GetValue<string>()}/redeliver", 202);
        await Call(http, "POST", "/v1/events/evt_unknown/redeliver", 404);
        await Call(http, "DELETE", $"/v1/webhook-endpoints/{endpoint!["id"]!.GetValue<string>()}", 204);
        await Call(http, "DELETE", "/v1/webhook-endpoints/we_unknown", 404);

        // Card tokens and, last, the token itself.
        await Call(http, "DELETE", $"/v1/card-tokens/{card}", 204);
        await Call(http, "DELETE", $"/v1/card-tokens/{card}", 404);
        // (Bodies the document forbids are refused by Prism itself, so the 400s checked here are the gateway's own rules.)
        await Call(http, "POST", "/v1/auth/revoke", 204, new { });
        await Call(http, "POST", "/v1/auth/revoke", 401);
        await Call(http, "GET", "/v1/transactions/trx_unknown", 401);

        var document = JsonNode.Parse(gateway.HostDocument)!;
        var all = document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(m => m.Key.ToUpperInvariant() + " " + p.Key)).ToList();
        var missed = all.Where(op => !covered.Contains(op)).ToList();
        Assert.True(missed.Count == 0, "Operations the flow did not call: " + string.Join(", ", missed));
        Assert.True(failures.Count == 0, "Through Prism:\n" + string.Join("\n", failures));
    }

    private async Task<JsonArray> EventsAsync(HttpClient http)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var list = await Call(http, "GET", "/v1/events?after_sequence=0&limit=10", 200);
            if (list?["data"] is JsonArray { Count: > 0 } data)
            {
                return data;
            }
            // The outbox relays events right after the commit; poll the public API as a merchant would.
            await Task.Delay(100, cts.Token);
        }
    }

    private async Task<JsonNode?> Call(HttpClient http, string method, string path, int expected, object? body = null,
        params (string Name, string Value)[] headers)
    {
        using var response = await Send(http, method, path, expected, body, headers);
        var text = await response.Content.ReadAsStringAsync();
        return text.Length > 0 && response.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.Ordinal) == true
            ? JsonNode.Parse(text) : null;
    }

    private async Task<HttpResponseMessage> Send(HttpClient http, string method, string path, int expected, object? body,
        params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        covered.Add(method + " " + Template(path));
        var label = $"{method} {path} (expected {expected})";
        if (response.Headers.TryGetValues("sl-violations", out var violations))
        {
            failures.Add($"{label}: {(int)response.StatusCode} violations {string.Join(' ', violations)}");
        }
        else if ((int)response.StatusCode != expected)
        {
            failures.Add($"{label}: {(int)response.StatusCode} {Shorten(await response.Content.ReadAsStringAsync())}");
        }
        else if (UndocumentedCode(method, path, (int)response.StatusCode, await response.Content.ReadAsStringAsync()) is { } code)
        {
            failures.Add($"{label}: answered code {code}, which the operation's {(int)response.StatusCode} does not list in x-error-codes");
        }
        return response;
    }

    private void Check(bool condition, string what)
    {
        if (!condition)
        {
            failures.Add("expected: " + what);
        }
    }

    /// <summary>A problem's code that the Host document's operation does not list for its status (a client branches on that list).</summary>
    private string? UndocumentedCode(string method, string path, int status, string body)
    {
        hostDocument ??= JsonNode.Parse(gateway.HostDocument)!;
        if (status < 400 || hostDocument["paths"]?[Template(path)]?[method.ToLowerInvariant()] is not { } operation
            || !body.StartsWith('{') || JsonNode.Parse(body)?["code"]?.GetValue<string>() is not { } code)
        {
            return null;
        }
        var listed = operation["responses"]?[status.ToString(System.Globalization.CultureInfo.InvariantCulture)]?["x-error-codes"]?.AsArray()
            .Select(c => c!.GetValue<string>()) ?? [];
        return listed.Contains(code) ? null : code;
    }

    private JsonNode? hostDocument;

    private static string Shorten(string s) => s.Length <= 600 ? s : s[..600];

    /// <summary>The document's path template for a concrete path (ids back to their parameter names).</summary>
    private static string Template(string path)
    {
        var p = path.Split('?')[0];
        var segments = p.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            var s = segments[i];
            var prefix = s.Split('_')[0];
            if (s.Contains('_', StringComparison.Ordinal) && prefix is "tki" or "pi" or "trx" or "tok" or "evt" or "we")
            {
                segments[i] = prefix switch
                {
                    "trx" => "{trx_id}",
                    "tok" => "{token}",
                    _ => "{id}",
                };
            }
        }
        return string.Join('/', segments);
    }
}
