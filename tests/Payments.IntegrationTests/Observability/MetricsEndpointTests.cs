using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Payments.TestKit;

namespace Payments.IntegrationTests.Observability;

/// <summary>
/// The Host and the Vault as real processes (their own listeners, as run.sh starts them), one payment flow through
/// them, then both management listeners scraped.
/// </summary>
public sealed class MetricsGateway : IAsyncLifetime
{
    public GatewayProcesses Processes { get; private set; } = null!;

    public string HostMetrics { get; private set; } = "";

    public string VaultMetrics { get; private set; } = "";

    /// <summary>The flow's merchant, authenticated (disposed with the fixture).</summary>
    public HttpClient Merchant { get; private set; } = null!;

    /// <summary>A webhook host of the merchant's choosing, which must be on no scrape (ADR 120: no URL is a label).</summary>
    public const string MerchantHost = "shop-one-cardinality.invalid";

    public Uri HostManagement => new($"http://127.0.0.1:{Processes.ManagementPortOf(Processes.Hosts[0].Port)}/");

    public Uri VaultManagement => new($"http://127.0.0.1:{Processes.ManagementPortOf(Processes.Vault.Port)}/");

    public async Task InitializeAsync()
    {
        Processes = await GatewayProcesses.StartAsync(new GatewayProcessOptions
        {
            Durable = false,
            HostEnvironment = new Dictionary<string, string>
            {
                ["Auth__MaxFailuresPerClient"] = "2",
                ["Telemetry__SampleInterval"] = "00:00:01",
            },
            VaultEnvironment = new Dictionary<string, string> { ["Telemetry__SampleInterval"] = "00:00:01" },
        });
        await RunFlowAsync();
        // The relay counts events once every module has them, pass by pass; the samplers refresh every second: wait
        // until every counted outcome of the flow shows (one of them alone raced the last pass).
        HostMetrics = await ScrapeUntilAsync(HostManagement,
            "payments_gateway_authorizations_total{decline_code=\"card_declined\",outcome=\"declined\"}",
            "payments_gateway_authorizations_total{decline_code=\"none\",outcome=\"approved\"}",
            "payments_gateway_operations_total{operation=\"capture\"}", "payments_gateway_operations_total{operation=\"void\"}",
            "payments_gateway_operations_total{operation=\"refund\"}", "payments_gateway_operations_total{operation=\"chargeback\"}",
            "payments_gateway_webhook_deliveries_total{",
            // The merchant's webhook host was looked up and failed; the merchant's limit refused a request.
            "name_resolution_error", "payments_gateway_rate_limit_refusals_total{limit=\"merchant_requests\"}");
        VaultMetrics = await ScrapeUntilAsync(VaultManagement, "payments_vault_audit_verification_last_run_seconds ", "payments_vault_audit_commit_duration_seconds_count");
        if (Environment.GetEnvironmentVariable("PAYMENTS_METRICS_DUMP") is { Length: > 0 } dump)
        {
            await File.WriteAllTextAsync(dump + ".host", HostMetrics);
            await File.WriteAllTextAsync(dump + ".vault", VaultMetrics);
        }
    }

    /// <summary>Every kind of thing the dashboard and the alerts count, once.</summary>
    private async Task RunFlowAsync()
    {
        using var json = JsonDocument.Parse(await Processes.RunHostCommandAsync("merchant", "create", "--name", "Metrics flow"));
        var clientId = json.RootElement.GetProperty("client_id").GetString()!;
        var secret = json.RootElement.GetProperty("client_secret").GetString()!;
        var http = Merchant = new HttpClient { BaseAddress = Processes.HostUrl };

        // Token failures, then the failure limit's refusal (2 per client here), for an unknown client.
        for (var i = 0; i < 3; i++)
        {
            using var failed = await http.PostAsJsonAsync("/v1/auth/token", new { client_id = "cli_metrics_unknown", client_secret = "sk_wrong" });
            Assert.Equal(i < 2 ? 401 : 429, (int)failed.StatusCode);
        }
        using (var token = await http.PostAsJsonAsync("/v1/auth/token", new { client_id = clientId, client_secret = secret }))
        {
            using var t = JsonDocument.Parse(await token.Content.ReadAsStringAsync());
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", t.RootElement.GetProperty("access_token").GetString());
        }
        // A webhook endpoint nobody listens on: its deliveries fail (connection refused).
        var closed = LoopbackPorts.Free();
        Assert.Equal(201, (await SendAsync(http, "/v1/webhook-endpoints", new { url = $"http://127.0.0.1:{closed}/hook", enabled_events = new[] { "*" } })).Status);
        // One on a host the merchant chose, which does not resolve.
        Assert.Equal(201, (await SendAsync(http, "/v1/webhook-endpoints", new { url = $"https://{MerchantHost}/hook", enabled_events = new[] { "*" } })).Status);

        var approvedCard = await TokenizeAsync(http, "4242424242424242");
        var declinedCard = await TokenizeAsync(http, "4000000000000002");
        var key = Guid.NewGuid().ToString();
        var authorize = new Dictionary<string, object> { ["operation"] = "authorize", ["amount"] = 2000, ["currency"] = "EUR", ["card_token"] = approvedCard, ["order_id"] = "m-1" };
        var first = await SendAsync(http, "/v1/transactions", authorize, key);
        Assert.Equal(201, first.Status);
        Assert.Equal(201, (await SendAsync(http, "/v1/transactions", authorize, key)).Status); // replay
        Assert.Equal(422, (await SendAsync(http, "/v1/transactions", new Dictionary<string, object>(authorize) { ["amount"] = 2001 }, key)).Status); // conflict
        var trx = first.Body.GetProperty("trx_id").GetString()!;
        Assert.Equal(200, (await SendAsync(http, $"/v1/transactions/{trx}", new { operation = "capture", amount = 1500 })).Status);
        Assert.Equal(200, (await SendAsync(http, $"/v1/transactions/{trx}", new { operation = "void" })).Status);
        Assert.Equal(201, (await SendAsync(http, $"/v1/transactions/{trx}/refunds", new { amount = 500 })).Status);
        Assert.Equal(201, (await SendAsync(http, "/v1/sandbox/chargebacks", new { trx_id = trx, amount = 100, reason_code = "fraud" })).Status);
        var declined = await SendAsync(http, "/v1/transactions",
            new Dictionary<string, object> { ["operation"] = "authorize", ["amount"] = 700, ["currency"] = "EUR", ["card_token"] = declinedCard, ["order_id"] = "m-2" });
        Assert.Equal("DECLINED", declined.Body.GetProperty("status").GetString());
        await RefuseOverTheMerchantLimitAsync();
    }

    /// <summary>A second merchant at 1 request per second, burst 1: requests in a row are refused with 429.</summary>
    private async Task RefuseOverTheMerchantLimitAsync()
    {
        using var json = JsonDocument.Parse(await Processes.RunHostCommandAsync("merchant", "create", "--name", "Metrics limited"));
        var clientId = json.RootElement.GetProperty("client_id").GetString()!;
        await Processes.RunHostCommandAsync("merchant", "set-limits", "--merchant-id", json.RootElement.GetProperty("merchant_id").GetString()!,
            "--rps", "1", "--burst", "1");
        using var http = new HttpClient { BaseAddress = Processes.HostUrl };
        using (var token = await http.PostAsJsonAsync("/v1/auth/token", new { client_id = clientId, client_secret = json.RootElement.GetProperty("client_secret").GetString() }))
        {
            using var t = JsonDocument.Parse(await token.Content.ReadAsStringAsync());
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", t.RootElement.GetProperty("access_token").GetString());
        }
        var statuses = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var answer = await http.GetAsync(new Uri("/v1/transactions", UriKind.Relative));
            statuses.Add((int)answer.StatusCode);
        }
        Assert.Contains(429, statuses);
    }

    private async Task<string> TokenizeAsync(HttpClient host, string number)
    {
        var intent = await SendAsync(host, "/v1/tokenization-intents", new { });
        using var vault = new HttpClient { BaseAddress = Processes.VaultUrl };
        using var stored = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{intent.Body.GetProperty("id").GetString()}/card", new Dictionary<string, object>
        {
            ["client_secret"] = intent.Body.GetProperty("client_secret").GetString()!, ["number"] = number, ["exp_month"] = 12,
            ["exp_year"] = DateTime.UtcNow.Year + 2, ["cvc"] = "123", ["holder_name"] = "Metrics Flow",
        });
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);
        using var body = JsonDocument.Parse(await stored.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("card_token").GetString()!;
    }

    private static async Task<(int Status, JsonElement Body)> SendAsync(HttpClient http, string path, object body, string? key = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString());
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }

    private static async Task<string> ScrapeUntilAsync(Uri management, params string[] needles)
    {
        using var http = new HttpClient { BaseAddress = management };
        // Generous: a loaded machine may take long over the relay passes and a failing delivery's DNS lookup.
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var text = await http.GetStringAsync(new Uri("metrics", UriKind.Relative));
            if (needles.All(n => text.Contains(n, StringComparison.Ordinal)) || DateTime.UtcNow > until)
            {
                return text;
            }
            // A scrape is the only view into another process; nothing there to await.
            await Task.Delay(250);
        }
    }

    public async Task DisposeAsync()
    {
        Merchant?.Dispose();
        if (Processes is not null)
        {
            await Processes.DisposeAsync();
        }
    }
}

public sealed partial class MetricsEndpointTests(MetricsGateway gateway) : IClassFixture<MetricsGateway>
{
    [Theory]
    [InlineData("host", "http_server_request_duration_seconds")]
    [InlineData("host", "http_client_request_duration_seconds")]
    [InlineData("host", "payments_gateway_authorizations_total")]
    [InlineData("host", "payments_gateway_operations_total")]
    [InlineData("host", "payments_gateway_idempotency_replays_total")]
    [InlineData("host", "payments_gateway_idempotency_conflicts_total")]
    [InlineData("host", "payments_gateway_vault_call_duration_seconds")]
    [InlineData("host", "payments_gateway_outbox_depth")]
    [InlineData("host", "payments_gateway_outbox_oldest_age_seconds")]
    [InlineData("host", "payments_gateway_outbox_holds")]
    [InlineData("host", "payments_gateway_group_commit_size")]
    [InlineData("host", "payments_gateway_refunds_reserved")]
    [InlineData("host", "payments_gateway_refunds_reserved_oldest_age_seconds")]
    [InlineData("host", "payments_gateway_webhook_deliveries_total")]
    [InlineData("host", "payments_gateway_webhook_backlog")]
    [InlineData("host", "payments_gateway_token_failures_total")]
    [InlineData("host", "payments_gateway_rate_limit_refusals_total")]
    [InlineData("vault", "http_server_request_duration_seconds")]
    [InlineData("vault", "payments_vault_card_uses_total")]
    [InlineData("vault", "payments_vault_audit_group_size")]
    [InlineData("vault", "payments_vault_audit_commit_duration_seconds")]
    [InlineData("vault", "payments_vault_keyring_current_key_age_seconds")]
    [InlineData("vault", "payments_vault_audit_verification_valid")]
    public void The_scrape_lists_the_named_metric_after_a_flow(string process, string metric) =>
        Assert.Contains(metric, Families(process == "host" ? gateway.HostMetrics : gateway.VaultMetrics));

    [Fact]
    public void Business_metrics_carry_the_flows_outcomes_with_bounded_labels()
    {
        Assert.Matches(@"payments_gateway_authorizations_total\{decline_code=""card_declined"",outcome=""declined""\} 1\b", gateway.HostMetrics);
        Assert.Matches(@"payments_gateway_authorizations_total\{decline_code=""none"",outcome=""approved""\} 1\b", gateway.HostMetrics);
        foreach (var op in new[] { "capture", "void", "refund", "chargeback" })
        {
            Assert.Matches($@"payments_gateway_operations_total\{{operation=""{op}""\}} 1\b", gateway.HostMetrics);
        }
        Assert.Matches(@"payments_gateway_idempotency_conflicts_total\{reason=""mismatch""\} 1\b", gateway.HostMetrics);
        Assert.Matches(@"payments_vault_audit_verification_valid 1\b", gateway.VaultMetrics);
        Assert.Matches(@"http_route=""/?v1/transactions/\{trx_id\}""", gateway.HostMetrics);
        // No label value is an id (prefix_ULID), a token or a path with one in it.
        Assert.DoesNotMatch(@"=""[^""]*[a-z]+_[0-9A-HJKMNP-TV-Z]{26}[^""]*""", gateway.HostMetrics + gateway.VaultMetrics);
    }

    [Fact]
    public void A_merchant_chosen_host_is_on_no_scrape()
    {
        // The delivery to it was measured (the scrape waited for its failure), under no label naming it.
        Assert.Contains("name_resolution_error", gateway.HostMetrics, StringComparison.Ordinal);
        Assert.DoesNotContain("cardinality", gateway.HostMetrics + gateway.VaultMetrics, StringComparison.OrdinalIgnoreCase);
        // The Host's calls to the Vault, a host of the operator's configuration, keep their address.
        Assert.Matches(@"http_client_request_duration_seconds_count\{[^}]*server_address=""127\.0\.0\.1""", gateway.HostMetrics);
    }

    [Fact]
    public void A_merchants_429_is_counted_by_its_limit() =>
        Assert.Matches(@"payments_gateway_rate_limit_refusals_total\{limit=""merchant_requests""\} [1-9]", gateway.HostMetrics);

    [Theory]
    [InlineData("GET", "/v1/transactions/trx_01JZZZZZZZZZZZZZZZZZZZZZZZ", "v1/transactions/{trx_id}")]
    [InlineData("DELETE", "/v1/card-tokens/tok_01JZZZZZZZZZZZZZZZZZZZZZZZ", "v1/card-tokens/{")]
    public async Task The_access_line_of_an_endpoints_404_names_its_route(string method, string path, string route)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var answer = await gateway.Merchant.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
        var requestId = Assert.Single(answer.Headers.GetValues("Request-Id"));

        var line = await AccessLineAsync(gateway.Processes.Hosts[0].LogFile, requestId);
        Assert.Contains(route, line, StringComparison.Ordinal);
        Assert.Contains("answered 404", line, StringComparison.Ordinal);
        Assert.DoesNotContain("(no route)", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_callers_traceparent_is_not_continued_on_the_public_listeners_but_the_hosts_is_on_the_vaults_internal_one()
    {
        // A trace id of the caller's choosing, one that reads as a card number, and the sampled flag set.
        const string chosen = "4111111111111111aaaaaaaaaaaaaaaa";
        async Task<string> TraceIdOfAnswerAsync(HttpClient http, HttpMethod method, string path, string logFile)
        {
            using var request = new HttpRequestMessage(method, path);
            if (method == HttpMethod.Post)
            {
                request.Content = JsonContent.Create(new { });
                request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
            }
            request.Headers.TryAddWithoutValidation("traceparent", $"00-{chosen}-bbbbbbbbbbbbbbbb-01");
            using var answer = await http.SendAsync(request);
            var requestId = Assert.Single(answer.Headers.GetValues("Request-Id"));
            return (await LogLineAsync(logFile, requestId, " answered ")).GetProperty("trace_id").GetString()!;
        }

        var hostTrace = await TraceIdOfAnswerAsync(gateway.Merchant, HttpMethod.Get, "/v1/transactions/trx_01JZZZZZZZZZZZZZZZZZZZZZZZ",
            gateway.Processes.Hosts[0].LogFile);
        Assert.NotEqual(chosen, hostTrace);
        Assert.Matches("^[0-9a-f]{32}$", hostTrace);
        using var browser = new HttpClient { BaseAddress = gateway.Processes.VaultUrl };
        var vaultTrace = await TraceIdOfAnswerAsync(browser, HttpMethod.Get, "/openapi/v1.json", gateway.Processes.Vault.LogFile);
        Assert.NotEqual(chosen, vaultTrace);

        // A Host request that calls the Vault: one trace across both processes, through the internal listener.
        using var intent = new HttpRequestMessage(HttpMethod.Post, "/v1/tokenization-intents") { Content = JsonContent.Create(new { }) };
        intent.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var created = await gateway.Merchant.SendAsync(intent);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var hostId = Assert.Single(created.Headers.GetValues("Request-Id"));
        var hostLine = await LogLineAsync(gateway.Processes.Hosts[0].LogFile, hostId, " answered ");
        var vaultLine = await LogLineAsync(gateway.Processes.Vault.LogFile, hostId, "");
        Assert.Equal(hostLine.GetProperty("trace_id").GetString(), vaultLine.GetProperty("trace_id").GetString());
    }

    /// <summary>The access line (its message) of <paramref name="requestId"/> in a process' log, once written.</summary>
    private static async Task<string> AccessLineAsync(string logFile, string requestId) =>
        (await LogLineAsync(logFile, requestId, " answered ")).GetProperty("message").GetString()!;

    /// <summary>The first line of <paramref name="requestId"/> whose message holds <paramref name="messagePart"/>, once written.</summary>
    private static async Task<JsonElement> LogLineAsync(string logFile, string requestId, string messagePart)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            using (var fs = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            using (var reader = new StreamReader(fs))
            {
                while (await reader.ReadLineAsync() is { } text)
                {
                    if (!text.StartsWith('{') || !text.Contains(requestId, StringComparison.Ordinal))
                    {
                        continue;
                    }
                    using var json = JsonDocument.Parse(text);
                    var root = json.RootElement;
                    if (root.TryGetProperty("request_id", out var id) && id.GetString() == requestId
                        && root.GetProperty("message").GetString() is { } message && message.Contains(messagePart, StringComparison.Ordinal))
                    {
                        return root.Clone();
                    }
                }
            }
            Assert.True(DateTime.UtcNow < deadline, $"no line of {requestId} with '{messagePart}' in {logFile}");
            // The other process' log file is the only view; nothing to await.
            await Task.Delay(100);
        }
    }

    [Fact]
    public void Every_metric_the_dashboard_and_the_alerts_use_is_on_a_scrape_endpoint()
    {
        var scraped = Families(gateway.HostMetrics).Concat(Families(gateway.VaultMetrics)).ToHashSet(StringComparer.Ordinal);
        var dashboard = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "ops", "grafana", "payments-gateway.json"));
        var rules = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "ops", "prometheus", "alerts.yml"));
        var exprs = JsonDocument.Parse(dashboard).RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!)
            .Append(rules).ToList();

        var used = exprs.SelectMany(e => MetricName().Matches(e).Select(m => Regex.Replace(m.Value, "_(bucket|count|sum)$", "")))
            .ToHashSet(StringComparer.Ordinal);

        Assert.True(used.Count >= 15, $"only {used.Count} metric names found in ops/");
        Assert.Empty(used.Where(u => !scraped.Contains(u)).Order());
    }

    [Fact]
    public async Task The_alert_rules_pass_promtool()
    {
        var rules = Path.Combine(RepositoryPaths.Root, "ops", "prometheus", "alerts.yml");
        // test.sh installs promtool (scripts/lib.sh ensure_packages --promtool).
        var psi = new System.Diagnostics.ProcessStartInfo("promtool") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("rules");
        psi.ArgumentList.Add(rules);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_management_listener_serves_no_merchant_route_and_the_public_ones_no_metrics()
    {
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(gateway.HostManagement, "metrics"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(gateway.VaultManagement, "metrics"))).StatusCode);

        foreach (var path in new[] { "v1/auth/token", "v1/transactions", "openapi/v1.json", "reference/v1" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(gateway.HostManagement, path))).StatusCode);
        }
        using (var token = await http.PostAsJsonAsync(new Uri(gateway.HostManagement, "v1/auth/token"), new { client_id = "cli_x", client_secret = "sk_x" }))
        {
            Assert.Equal(HttpStatusCode.NotFound, token.StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(gateway.VaultManagement, "v1/tokenization-intents/ti_x/card-entry"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(gateway.VaultManagement, "internal/v1/cards/tok_x"))).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(gateway.Processes.HostUrl, "metrics"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(gateway.Processes.VaultUrl, "metrics"))).StatusCode);
    }

    /// <summary>The metric families (<c># TYPE name kind</c>) of a scrape.</summary>
    private static HashSet<string> Families(string scrape) =>
        [.. scrape.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2])];

    // Metric names only: label names (http_route, http_response_status_code) are not families.
    [GeneratedRegex(@"\b(payments_[a-z0-9_]+|http_(server|client)_[a-z0-9_]+|dotnet_[a-z0-9_]+|db_client_[a-z0-9_]+)\b")]
    private static partial Regex MetricName();
}
