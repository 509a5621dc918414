using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Payments.Security.Tests.Kit;
using Xunit.Abstractions;

namespace Payments.Security.Tests;

/// <summary>
/// Every route of the OpenAPI document without a token, with a broken, revoked or expired one, and with another
/// merchant's IDs; the Vault's service routes without the service credential; the card-entry routes with a wrong
/// or used client secret.
/// </summary>
[Collection(Suites.Access)]
public sealed class AccessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_route_without_a_valid_token_answers_401()
    {
        var suite = await SuiteData.GetAsync();
        var operations = await ProtectedOperationsAsync(suite);
        var token = suite.A.AccessToken;
        var tampered = token[..^2] + (token[^2] == 'A' ? "BB" : "AA");
        var unsigned = B64("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + B64($"{{\"sub\":\"{suite.A.MerchantId}\",\"exp\":4102444800}}") + ".";
        var headers = new (string Name, AuthenticationHeaderValue? Value)[]
        {
            ("no Authorization header", null),
            ("garbage bearer", new AuthenticationHeaderValue("Bearer", "not-a-token")),
            ("alg none", new AuthenticationHeaderValue("Bearer", unsigned)),
            ("tampered signature", new AuthenticationHeaderValue("Bearer", tampered)),
            ("client credentials as Basic", new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{suite.A.ClientId}:{suite.A.ClientSecret}")))),
            ("empty bearer", new AuthenticationHeaderValue("Bearer", "")),
        };
        var failures = new List<string>();
        foreach (var op in operations)
        {
            foreach (var (name, header) in headers)
            {
                var answer = await SendAsync(suite, op, suite.IdsOfA, null, header);
                Expect401(failures, op, name, answer);
            }
        }
        output.WriteLine($"{operations.Count} operations × {headers.Length} kinds of missing or broken token");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Every_route_with_a_revoked_token_answers_401()
    {
        var suite = await SuiteData.GetAsync();
        var operations = await ProtectedOperationsAsync(suite);
        var token = await Merchants.IssueTokenAsync(suite.Gateway, suite.A.ClientId, suite.A.ClientSecret);
        using (var http = suite.Gateway.HostClient(token))
        {
            var works = await Json.SendAsync(http, HttpMethod.Get, "/v1/transactions/" + SuiteData.UnknownId("trx"));
            Assert.NotEqual(401, works.Status);
            // The token named in the body (the presented one): the contract's other form, {"token"}.
            var revoked = await Json.SendAsync(http, HttpMethod.Post, "/v1/auth/revoke", new Dictionary<string, string> { ["token"] = token });
            Assert.Equal(204, revoked.Status);
        }
        var failures = new List<string>();
        foreach (var op in operations)
        {
            Expect401(failures, op, "revoked token", await SendAsync(suite, op, suite.IdsOfA, token, null));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Every_route_with_an_expired_token_answers_401()
    {
        var suite = await SuiteData.GetAsync();
        var operations = await ProtectedOperationsAsync(suite);
        string token;
        // The Host stamps tokens with its clock: a token issued "a day ago" expired long before now.
        suite.Gateway.Clock.Offset = TimeSpan.FromDays(-1);
        try
        {
            token = await Merchants.IssueTokenAsync(suite.Gateway, suite.A.ClientId, suite.A.ClientSecret);
        }
        finally
        {
            suite.Gateway.Clock.Offset = TimeSpan.Zero;
        }
        var exp = JsonDocument.Parse(Convert.FromBase64String(Pad(token.Split('.')[1]))).RootElement.GetProperty("exp").GetInt64();
        Assert.True(DateTimeOffset.FromUnixTimeSeconds(exp) < DateTimeOffset.UtcNow.AddMinutes(-5), "the minted token is not expired");

        var failures = new List<string>();
        foreach (var op in operations)
        {
            Expect401(failures, op, "expired token", await SendAsync(suite, op, suite.IdsOfA, token, null));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Another_merchants_ids_answer_404_exactly_as_unknown_ids_and_change_nothing()
    {
        var suite = await SuiteData.GetAsync();
        var operations = (await ProtectedOperationsAsync(suite))
            .Where(o => o.PathParameters.Any())
            .ToList();
        var failures = new List<string>();
        var tested = 0;
        foreach (var op in operations)
        {
            var kinds = op.PathParameters.Select(p => SuiteData.KindOf(op.PathTemplate, p.Name)).ToList();
            if (kinds.Any(k => k is null || !suite.IdsOfA.ContainsKey(k)))
            {
                output.WriteLine($"not tested (no object of A for its path): {op}");
                continue;
            }
            tested++;
            var unknownIds = kinds.ToDictionary(k => k!, k => SuiteData.UnknownId(k!));
            var before = await DatabaseSnapshot.TakeAsync(suite.Gateway.HostConnectionString);
            var foreign = await SendAsync(suite, op, suite.IdsOfA, suite.B.AccessToken, null);
            var after = await DatabaseSnapshot.TakeAsync(suite.Gateway.HostConnectionString);
            var unknown = await SendAsync(suite, op, unknownIds, suite.B.AccessToken, null);
            CompareNotFound(failures, op.ToString(), foreign, unknown, suite.IdsOfA.Values.Concat(unknownIds.Values));
            var diff = before.Diff(after).Where(d => !HostileInputTests.IsBackgroundWork(d)).ToList();
            if (diff.Count > 0)
            {
                failures.Add($"{op} with A's ids as B changed the database: {string.Join("; ", diff)}");
            }
        }

        // IDs in bodies: another merchant's card token, payment intent or transaction is unknown too.
        var all = await ProtectedOperationsAsync(suite);
        foreach (var (method, path, body) in BodyReferences(suite))
        {
            if (!all.Any(o => o.Method == method && o.PathTemplate == path))
            {
                continue;
            }
            tested++;
            using var http = suite.Gateway.HostClient(suite.B.AccessToken);
            var before = await DatabaseSnapshot.TakeAsync(suite.Gateway.HostConnectionString);
            var foreign = await Json.SendAsync(http, new HttpMethod(method), path, body(suite.IdsOfA));
            var after = await DatabaseSnapshot.TakeAsync(suite.Gateway.HostConnectionString);
            var unknownIds = suite.IdsOfA.Keys.ToDictionary(k => k, SuiteData.UnknownId);
            var unknown = await Json.SendAsync(http, new HttpMethod(method), path, body(unknownIds));
            CompareNotFound(failures, $"{method} {path} (id in body)", foreign, unknown, suite.IdsOfA.Values.Concat(unknownIds.Values));
            var diff = before.Diff(after).Where(d => !HostileInputTests.IsBackgroundWork(d)).ToList();
            if (diff.Count > 0)
            {
                failures.Add($"{method} {path} with A's ids in the body as B changed the database: {string.Join("; ", diff)}");
            }
        }

        // Reads that search rather than address: B's lookups and lists never show A's payment.
        if (suite.IdsOfA.TryGetValue("trx", out var trx) && all.Any(o => o.PathTemplate == "/v1/transactions/lookup"))
        {
            tested++;
            using var http = suite.Gateway.HostClient(suite.B.AccessToken);
            var lookup = await Json.SendAsync(http, HttpMethod.Get, "/v1/transactions/lookup?id_type=order_id&id=security-suite-order");
            if (lookup.Status != 404 || lookup.ProblemCode != "not_found")
            {
                failures.Add($"B's lookup of A's order_id answered {lookup.Status}: {lookup.Body}");
            }
            var today = DateTime.UtcNow;
            var list = await Json.SendAsync(http, HttpMethod.Get,
                $"/v1/transactions?start_date={today.AddDays(-2):dd/MM/yyyy}&end_date={today.AddDays(2):dd/MM/yyyy}&limit=100");
            if (list.Status != 200 || list.Body.Contains(trx, StringComparison.Ordinal))
            {
                failures.Add($"B's transaction list answered {list.Status} or shows A's {trx}");
            }
        }
        output.WriteLine($"{tested} cross-merchant checks");
        Assert.True(tested > 0, "no route takes an object of merchant A: nothing was tested");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task The_vaults_service_routes_refuse_calls_without_the_service_credential()
    {
        var suite = await SuiteData.GetAsync();
        var endpoints = suite.Gateway.Vault.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => (Method: m, Pattern: "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'))))
            .Distinct()
            .ToList();
        var serviceRoutes = endpoints.Where(e => !IsPublicVaultRoute(e.Pattern)).ToList();
        output.WriteLine("public: " + string.Join(", ", endpoints.Except(serviceRoutes).Select(e => $"{e.Method} {e.Pattern}")));
        output.WriteLine("service: " + string.Join(", ", serviceRoutes.Select(e => $"{e.Method} {e.Pattern}")));
        var failures = new List<string>();
        using var http = suite.Gateway.VaultClient();
        foreach (var (method, pattern) in serviceRoutes)
        {
            var path = Regex.Replace(pattern, @"\{([^}:]+)[^}]*\}", m => suite.IdsOfA.GetValueOrDefault(KindFromName(m.Groups[1].Value), "x_01J5XCMDXCFXCAQ1BV8HVG6644"));
            foreach (var auth in new AuthenticationHeaderValue?[] { null, new("Bearer", suite.A.AccessToken) })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                request.Headers.Authorization = auth;
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new StringContent($"{{\"merchant_id\":\"{suite.A.MerchantId}\"}}", Encoding.UTF8, "application/json");
                }
                using var response = await http.SendAsync(request);
                if ((int)response.StatusCode != 401)
                {
                    failures.Add($"{method} {path} {(auth is null ? "without credential" : "with a merchant's bearer token")}: {(int)response.StatusCode}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Card_entry_refuses_a_wrong_client_secret_and_a_used_one()
    {
        var suite = await SuiteData.GetAsync();
        using var host = suite.Gateway.HostClient(suite.A.AccessToken);
        var intent = await Json.SendAsync(host, HttpMethod.Post, "/v1/tokenization-intents", new { });
        intent.ExpectStatus(201);
        var id = intent.String("id");
        var secret = intent.String("client_secret");
        var pageUrl = new Uri(intent.String("card_entry_url"));
        var wrongSecret = secret[..^4] + (secret.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");

        var wrong = await Merchants.SubmitCardAsync(suite.Gateway, id, wrongSecret, SuiteData.OtherPan, SuiteData.CvcB);
        Assert.Equal(404, wrong.Status);
        Assert.DoesNotContain(SuiteData.OtherPan, wrong.Body, StringComparison.Ordinal);
        var neverIssued = await Merchants.SubmitCardAsync(suite.Gateway, SuiteData.UnknownId("tki"), secret, SuiteData.OtherPan, SuiteData.CvcB);
        Assert.Equal(404, neverIssued.Status);

        using var vault = suite.Gateway.VaultClient();
        if (pageUrl.Query.Contains(Uri.EscapeDataString(secret), StringComparison.Ordinal) || pageUrl.Query.Contains(secret, StringComparison.Ordinal))
        {
            var wrongPage = await vault.GetAsync(pageUrl.PathAndQuery.Replace(secret, wrongSecret, StringComparison.Ordinal));
            Assert.InRange((int)wrongPage.StatusCode, 400, 499);
        }
        var page = await vault.GetAsync(pageUrl.PathAndQuery);
        Assert.Equal(200, (int)page.StatusCode);

        var used = await Merchants.SubmitCardAsync(suite.Gateway, id, secret, SuiteData.OtherPan, SuiteData.CvcB);
        Assert.Equal(201, used.Status);
        var again = await Merchants.SubmitCardAsync(suite.Gateway, id, secret, SuiteData.OtherPan, SuiteData.CvcB);
        Assert.Equal(409, again.Status);
        Assert.Equal("intent_succeeded", again.ProblemCode);
        var usedPage = await vault.GetAsync(pageUrl.PathAndQuery);
        var usedPageBody = await usedPage.Content.ReadAsStringAsync();
        Assert.False(usedPage.StatusCode == System.Net.HttpStatusCode.OK && usedPageBody.Contains("<form", StringComparison.OrdinalIgnoreCase),
            "the card-entry page still offers a card form for a used client secret");
    }

    private static bool IsPublicVaultRoute(string pattern) =>
        pattern.StartsWith("/health", StringComparison.Ordinal)
        || pattern == "/openapi/v1.json" // the public card route's document (docs/adr/0101)
        || Regex.IsMatch(pattern, @"^/v1/tokenization-intents/\{[^}]+\}/card$")
        || pattern.Contains("card-entry", StringComparison.Ordinal)
        || pattern.StartsWith("/static", StringComparison.Ordinal)
        || pattern.StartsWith("/assets", StringComparison.Ordinal)
        || pattern == "/csp-reports" // browsers' CSP violation reports (audited, ADR 117)
        || pattern == "/metrics"; // the scrape, served on the management listener only (ADR 15, 120)

    private static string KindFromName(string name) => name switch
    {
        var n when n.Contains("trx", StringComparison.Ordinal) => "trx",
        var n when n.Contains("tok", StringComparison.Ordinal) => "tok",
        var n when n.Contains("intent", StringComparison.Ordinal) => "tki",
        _ => "mer",
    };

    private static async Task<List<ApiOperation>> ProtectedOperationsAsync(SuiteData suite)
    {
        using var http = suite.Gateway.HostClient(suite.A.AccessToken);
        var (operations, _) = await OpenApiOperations.ReadAsync(http);
        return operations.Where(o => o.PathTemplate.StartsWith("/v1/", StringComparison.Ordinal) && !o.Anonymous).ToList();
    }

    /// <summary>A request that would do something real if the caller were allowed to: the strongest test of a refusal.</summary>
    private static async Task<JsonAnswer> SendAsync(SuiteData suite, ApiOperation op, IReadOnlyDictionary<string, string> ids,
        string? token, AuthenticationHeaderValue? header)
    {
        var path = OpenApiOperations.TemplateParameters(op.PathTemplate).Aggregate(op.PathTemplate, (p, name) =>
            Regex.Replace(p, "\\{" + Regex.Escape(name) + "(:[^}]*)?\\}", ids.GetValueOrDefault(SuiteData.KindOf(op.PathTemplate, name) ?? "", "x_01J5XCMDXCFXCAQ1BV8HVG6644")));
        if (path.StartsWith("/v1/transactions/lookup", StringComparison.Ordinal))
        {
            path += "?id_type=order_id&id=security-suite-order";
        }
        using var http = suite.Gateway.HostClient(token);
        if (header is not null)
        {
            http.DefaultRequestHeaders.Authorization = header;
        }
        object? body = op.TakesBody ? BodyFor(op) : null;
        return await Json.SendAsync(http, new HttpMethod(op.Method), path, body);
    }

    private static object BodyFor(ApiOperation op) => op.PathTemplate switch
    {
        var p when p.EndsWith("/refunds", StringComparison.Ordinal) => new Dictionary<string, object> { ["amount"] = 1 },
        "/v1/transactions/{trx_id}" => new Dictionary<string, object> { ["operation"] = "void", ["amount"] = 1 },
        _ when op.Body is { } schema && schema.Properties.Any(p => p.Name == "operation") => new Dictionary<string, object> { ["operation"] = "void", ["amount"] = 1 },
        _ => new Dictionary<string, object>(),
    };

    private static IEnumerable<(string Method, string Path, Func<IReadOnlyDictionary<string, string>, object> Body)> BodyReferences(SuiteData suite)
    {
        if (suite.IdsOfA.ContainsKey("tok"))
        {
            yield return ("POST", "/v1/transactions", ids => new Dictionary<string, object>
            {
                ["operation"] = "authorize", ["amount"] = 100, ["currency"] = "EUR", ["card_token"] = ids["tok"], ["order_id"] = "cross-merchant",
            });
            yield return ("POST", "/v1/payment-intents", ids => new Dictionary<string, object>
            {
                ["amount"] = 100, ["currency"] = "EUR", ["card_token"] = ids["tok"], ["order_id"] = "cross-merchant",
            });
        }
        if (suite.IdsOfA.ContainsKey("pi"))
        {
            yield return ("POST", "/v1/transactions", ids => new Dictionary<string, object> { ["operation"] = "authorize", ["payment_intent_id"] = ids["pi"] });
        }
        if (suite.IdsOfA.ContainsKey("trx"))
        {
            yield return ("POST", "/v1/sandbox/chargebacks", ids => new Dictionary<string, object> { ["trx_id"] = ids["trx"], ["amount"] = 1, ["reason_code"] = "10.4" });
        }
    }

    private static void CompareNotFound(List<string> failures, string what, JsonAnswer foreign, JsonAnswer unknown, IEnumerable<string> ids)
    {
        if (foreign.Status != 404 || foreign.ProblemCode != "not_found")
        {
            failures.Add($"{what} with merchant A's id as merchant B answered {foreign.Status} {foreign.ProblemCode}: {foreign.Body}");
            return;
        }
        if (unknown.Status != 404 || unknown.ProblemCode != "not_found")
        {
            failures.Add($"{what} with an unknown id answered {unknown.Status} {unknown.ProblemCode}: {unknown.Body}");
            return;
        }
        // Same answer but for the id itself and the request id: nothing tells "exists elsewhere" from "never existed".
        var a = Normalize(foreign, ids);
        var b = Normalize(unknown, ids);
        if (a != b)
        {
            failures.Add($"{what}: another merchant's id and an unknown id answer differently:\n  {a}\n  {b}");
        }
    }

    private static string Normalize(JsonAnswer answer, IEnumerable<string> ids)
    {
        var root = answer.Root;
        var parts = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in root.EnumerateObject().Where(p => p.Name is not ("request_id" or "instance")))
        {
            parts[p.Name] = p.Value.ToString();
        }
        var text = string.Join("|", parts.Select(kv => kv.Key + "=" + kv.Value));
        foreach (var id in ids)
        {
            text = text.Replace(id, "{id}", StringComparison.Ordinal);
        }
        return Regex.Replace(text, @"\b(trx|pi|tki|tok|mer)_[0-9A-Z]{26}\b", "{id}");
    }

    private static void Expect401(List<string> failures, ApiOperation op, string what, JsonAnswer answer)
    {
        if (answer.Status != 401)
        {
            failures.Add($"{op} with {what}: {answer.Status} {answer.Body}");
            return;
        }
        var problem = HostileInputTests.ProblemFailure(401, answer.MediaType, answer.Body);
        if (problem is not null)
        {
            failures.Add($"{op} with {what}: {problem}");
        }
    }

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Pad(string s)
    {
        s = s.Replace('-', '+').Replace('_', '/');
        return s + new string('=', (4 - s.Length % 4) % 4);
    }
}
