using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Payments.TestKit;

namespace Payments.Vault.Tests;

/// <summary>
/// What every Vault answer is made of, on real sockets (Kestrel's body limit does not exist in the in-memory server).
/// Its own processes: the boundary suite's guessing test exhausts this address's failed card-entry limit.
/// </summary>
public sealed class VaultAnswerTests(VaultProcessesFixture gateway) : IClassFixture<VaultProcessesFixture>
{
    /// <summary>
    /// With its database down, the Vault answered the card route and the card-entry page 500 internal_error; an outage
    /// that ends is a 503 with Retry-After, as the Host answers its own.
    /// </summary>
    [Fact]
    public async Task With_its_database_down_the_vault_answers_503_with_retry_after_never_a_500()
    {
        // The card route's 503 is one its document gives (the page is HTML, outside the document).
        using var vault = DocumentedVaultClient();
        await gateway.Processes.StopPostgresAsync();
        try
        {
            using var card = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{gateway.IntentId}/card", new Dictionary<string, object>
            {
                ["client_secret"] = "x", ["number"] = "4242424242424242", ["exp_month"] = 12, ["exp_year"] = 2040, ["cvc"] = "123",
            });
            using var page = await vault.GetAsync(new Uri($"/v1/tokenization-intents/{gateway.IntentId}/card-entry?client_secret=x", UriKind.Relative));

            foreach (var answer in new[] { card, page })
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
                Assert.NotNull(answer.Headers.RetryAfter);
            }
            using var problem = JsonDocument.Parse(await card.Content.ReadAsStringAsync());
            Assert.Equal("service_unavailable", problem.RootElement.GetProperty("code").GetString());
        }
        finally
        {
            await gateway.Processes.StartPostgresAsync();
        }
    }

    /// <summary>
    /// The card route's answers are the ones the Vault's own <c>/openapi/v1.json</c> gives (its 503 is in the database
    /// test above), titled as the Host titles the same status. The document had no 503 and a 413 without a body, and
    /// the Vault titled its problems as the framework does ("Not Found" where the Host says "Not found").
    /// </summary>
    [Fact]
    public async Task The_card_routes_answers_are_the_ones_its_document_gives_titled_as_the_hosts()
    {
        using var vault = DocumentedVaultClient();
        var (intent, secret) = await gateway.CreateIntentAsync(null);
        var route = $"/v1/tokenization-intents/{intent}/card";
        Dictionary<string, object?> Card(string number) => CardPost.Body(secret, number);

        var answers = new List<HttpResponseMessage>
        {
            await vault.PostAsJsonAsync(route, Card("4242424242424241")), // fails the Luhn check
            await vault.PostAsync(route, new StringContent("{bad", Encoding.UTF8, "application/json")),
            await vault.PostAsync(route, new StringContent("[]", Encoding.UTF8, "application/json")),
            await vault.PostAsync(route, new StringContent("number=4242424242424242", Encoding.UTF8, "text/plain")),
            await vault.PostAsync(route, new StringContent(new string('x', 20_000), Encoding.UTF8, "application/json")),
            await vault.PostAsJsonAsync("/v1/tokenization-intents/tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y/card", Card("4242424242424242")),
            await vault.PostAsJsonAsync(route, Card("4242424242424242")),
            await vault.PostAsJsonAsync(route, Card("4242424242424242")), // the intent has its card
        };
        try
        {
            Assert.Equal([400, 400, 400, 415, 413, 404, 201, 409], answers.Select(a => (int)a.StatusCode));
            // Every 400 names its field, a body that is no JSON object the field "body", as the Host's do.
            foreach (var refused in answers.Take(3))
            {
                using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
                Assert.NotEmpty(problem.RootElement.GetProperty("errors").EnumerateObject());
            }
            using (var notJson = JsonDocument.Parse(await answers[1].Content.ReadAsStringAsync()))
            {
                Assert.Equal("The body is not valid JSON.", notJson.RootElement.GetProperty("errors").GetProperty("body")[0].GetString());
            }

            // The Host's titles for the statuses both answer.
            using var notFound = await gateway.Host.GetAsync(new Uri("/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644", UriKind.Relative));
            using var unsupported = await PostToHostAsync(new StringContent("{}", Encoding.UTF8, "text/plain"));
            using var invalid = await PostToHostAsync(new StringContent("{}", Encoding.UTF8, "application/json"));
            var hostTitles = new Dictionary<int, string>();
            foreach (var answer in new[] { notFound, unsupported, invalid })
            {
                using var problem = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
                hostTitles[(int)answer.StatusCode] = problem.RootElement.GetProperty("title").GetString()!;
            }
            Assert.Equal([400, 404, 415], hostTitles.Keys.Order());
            foreach (var answer in answers.Where(a => hostTitles.ContainsKey((int)a.StatusCode)))
            {
                using var problem = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
                Assert.Equal(hostTitles[(int)answer.StatusCode], problem.RootElement.GetProperty("title").GetString());
            }
        }
        finally
        {
            answers.ForEach(a => a.Dispose());
        }
    }

    private async Task<HttpResponseMessage> PostToHostAsync(HttpContent body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/transactions") { Content = body };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        return await gateway.Host.SendAsync(request);
    }

    /// <summary>A client of the Vault's public listener whose every answer is checked against the Vault's own document.</summary>
    private HttpClient DocumentedVaultClient()
    {
        var url = gateway.Processes.VaultUrl;
        var validator = OpenApiAnswerValidator.ReadingFrom(() => new HttpClient { BaseAddress = url }, "vault");
        validator.InnerHandler = new HttpClientHandler();
        return new HttpClient(validator) { BaseAddress = url };
    }

    /// <summary>
    /// Kestrel refuses a body over the Vault's 16 KiB by throwing where the route reads it; the exception handler used
    /// to answer that 500 to anyone, with no credential. Now a 413 problem on every listener, declared or chunked.
    /// </summary>
    [Fact]
    public async Task A_body_over_16_KiB_is_a_413_problem_on_every_listener_never_a_500()
    {
        var card = $"/v1/tokenization-intents/{gateway.IntentId}/card";
        var padded = """{"client_secret":"x","number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123"}""" + new string(' ', 17 * 1024);
        var cases = new (Uri Server, string Path, Func<HttpContent> Body, bool Chunked)[]
        {
            (gateway.Processes.VaultUrl, card, () => new StringContent(new string('x', 20_000), Encoding.UTF8, "application/json"), false),
            (gateway.Processes.VaultUrl, card, () => new StringContent(padded, Encoding.UTF8, "application/json"), false),
            (gateway.Processes.VaultUrl, card, () => new StringContent(padded, Encoding.UTF8, "application/json"), true),
            (gateway.Processes.VaultUrl, card, () => new StringContent("number=" + new string('4', 20_000), Encoding.UTF8, "application/x-www-form-urlencoded"), false),
            (gateway.Processes.VaultUrl, card, () => new StringContent("number=" + new string('4', 20_000), Encoding.UTF8, "application/x-www-form-urlencoded"), true),
            (gateway.Processes.VaultInternalUrl, "/internal/v1/tokenization-intents/tki_probe", () => new StringContent(padded, Encoding.UTF8, "application/json"), false),
            (gateway.Processes.VaultInternalUrl, "/internal/v1/acquirer/authorize", () => new StringContent(padded, Encoding.UTF8, "application/json"), true),
        };
        var failures = new List<string>();
        foreach (var (server, path, body, chunked) in cases)
        {
            using var vault = new HttpClient { BaseAddress = server };
            using var request = new HttpRequestMessage(path.StartsWith("/internal/v1/tokenization", StringComparison.Ordinal) ? HttpMethod.Put : HttpMethod.Post, path)
            {
                Content = body(),
            };
            request.Headers.TransferEncodingChunked = chunked;
            using var answer = await vault.SendAsync(request);
            var text = await answer.Content.ReadAsStringAsync();
            var code = answer.Content.Headers.ContentType?.MediaType == "application/problem+json"
                && JsonDocument.Parse(text).RootElement.TryGetProperty("code", out var c) ? c.GetString()
                : null;
            if (answer.StatusCode != HttpStatusCode.RequestEntityTooLarge || code != "payload_too_large")
            {
                failures.Add($"{server.Port} {path} chunked={chunked}: {(int)answer.StatusCode} {text}");
            }
        }
        // The management port reads no body: whatever it answers, never a 500.
        using (var management = new HttpClient { BaseAddress = gateway.Processes.VaultManagementUrl })
        using (var answer = await management.PostAsync("/health/live", new StringContent(padded, Encoding.UTF8, "application/json")))
        {
            Assert.True((int)answer.StatusCode < 500, $"management: {(int)answer.StatusCode}");
        }

        Assert.Empty(failures);
    }

    /// <summary>A form with more fields than the form reader accepts is bad input like any other: a 400, not a 500.</summary>
    [Fact]
    public async Task A_form_with_too_many_fields_is_a_400_problem()
    {
        using var vault = new HttpClient { BaseAddress = gateway.Processes.VaultUrl };
        var form = string.Join('&', Enumerable.Range(0, 1100).Select(i => $"f{i}="));
        using var answer = await vault.PostAsync($"/v1/tokenization-intents/{gateway.IntentId}/card",
            new StringContent(form, Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Equal("validation_failed", JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    /// <summary>
    /// The contract's "every answer carries a Request-Id", and nosniff, on every listener, also on answers the
    /// exception handler wrote; the JSON API answers (above all the 201 with the card's token) are never cached.
    /// </summary>
    [Fact]
    public async Task Every_answer_carries_a_request_id_and_nosniff_and_api_answers_are_not_cached()
    {
        using var vault = new HttpClient { BaseAddress = gateway.Processes.VaultUrl };
        using var inside = new HttpClient { BaseAddress = gateway.Processes.VaultInternalUrl };
        using var management = new HttpClient { BaseAddress = gateway.Processes.VaultManagementUrl };
        var (intentId, secret) = await gateway.CreateIntentAsync(null);
        using var stored = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{intentId}/card", new Dictionary<string, object>
        {
            ["client_secret"] = secret, ["number"] = "4242424242424242", ["exp_month"] = 12,
            ["exp_year"] = DateTime.UtcNow.Year + 2, ["cvc"] = "123",
        });
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);
        using var unknown = await vault.PostAsJsonAsync("/v1/tokenization-intents/tki_unknown/card", new Dictionary<string, object> { ["client_secret"] = "x" });
        using var tooLarge = await vault.PostAsync("/v1/tokenization-intents/tki_unknown/card",
            new StringContent(new string('x', 20_000), Encoding.UTF8, "application/json"));
        using var unsigned = await inside.GetAsync($"/internal/v1/tokenization-intents/{intentId}");
        using var page = await vault.GetAsync($"/v1/tokenization-intents/{intentId}/card-entry?client_secret={secret}");
        using var live = await management.GetAsync("/health/live");

        foreach (var answer in new[] { stored, unknown, tooLarge, unsigned, page, live })
        {
            var what = $"{(int)answer.StatusCode} {answer.RequestMessage!.RequestUri}";
            Assert.True(answer.Headers.TryGetValues("Request-Id", out var ids), what);
            Assert.StartsWith("req_", Assert.Single(ids), StringComparison.Ordinal);
            Assert.Equal("nosniff", Assert.Single(answer.Headers.GetValues("X-Content-Type-Options")));
        }
        foreach (var answer in new[] { stored, unknown, unsigned })
        {
            Assert.True(answer.Headers.CacheControl?.NoStore, $"{(int)answer.StatusCode} {answer.RequestMessage!.RequestUri}");
        }
        // The card-entry page keeps the headers it sets itself.
        Assert.Contains("frame-ancestors", string.Join(' ', page.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_callers_request_id_is_never_the_answers()
    {
        using var vault = new HttpClient { BaseAddress = gateway.Processes.VaultUrl };
        async Task<string> AnsweredIdAsync(string sent)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/openapi/v1.json");
            request.Headers.TryAddWithoutValidation("Request-Id", sent);
            using var answer = await vault.SendAsync(request);
            return Assert.Single(answer.Headers.GetValues("Request-Id"));
        }

        // The Vault's own id on its public listener: it goes into audit rows, so no caller chooses it (ADR 118).
        foreach (var sent in new[] { "merchant-trace-42", "req_<script>", "card-4242424242424242" })
        {
            var answered = await AnsweredIdAsync(sent);
            Assert.NotEqual(sent, answered);
            Assert.StartsWith("req_", answered, StringComparison.Ordinal);
        }
    }
}
