using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Payments.BuildingBlocks.Logging;
using Payments.Security.Tests.Kit;
using LogMarker = Payments.TestKit.LogMarker;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Payments.Security.Tests;

/// <summary>The scanner itself: it finds card data planted in each kind of source, and does not cry wolf.</summary>
[Collection(Suites.Scanner)]
public sealed class CardDataScannerTests
{
    private static CardDataScanner NewScanner() => new(SuiteData.KnownPans, SuiteData.KnownCvcs);

    [Theory]
    [InlineData("paid with 4242424242424242 today")]
    [InlineData("{\"number\":\"4000 0566 5566 5556\"}")]
    [InlineData("pan=4111-1111-1111-1111;")]
    [InlineData("card 378282246310005 (amex, 15 digits)")]
    [InlineData("6011111111111117")]
    public void A_card_number_in_text_is_found(string text)
    {
        var scanner = NewScanner();

        scanner.ScanText("planted", "text", text);

        Assert.NotEmpty(scanner.Findings);
        Assert.All(scanner.Findings, f => Assert.DoesNotContain("4242424242424242", f.ToString(), StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{\"cvc\":\"7391\"}")]
    [InlineData("cvc=8462 exp=12/30")]
    public void A_cvc_used_by_the_suites_is_found(string text)
    {
        var scanner = NewScanner();

        scanner.ScanText("planted", "text", text);

        Assert.Contains(scanner.Findings, f => f.Kind.Contains("CVC", StringComparison.Ordinal));
    }

    [Fact]
    public void A_hex_encoded_card_number_is_found()
    {
        var scanner = NewScanner();

        scanner.ScanText("planted", "bytea", "(1,\"\\\\x" + Convert.ToHexString("4242424242424242"u8).ToLowerInvariant() + "\")");

        Assert.NotEmpty(scanner.Findings);
    }

    [Theory]
    [InlineData("trx_01J5XCMDXCFXCAQ1BV8HVG6644 at 2026-11-25T16:44:16.7391234+00:00")]
    [InlineData("550e8400-e29b-41d4-a716-446655440000 1234-5678-9012")]
    [InlineData("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("{\"last4\":\"4242\",\"amount\":999999999999,\"elapsed_ms\":12.7391}")]
    [InlineData("{\"refilled_at\":1764950305.920118}")] // a Unix time with its fraction: 16 digits, Luhn-valid
    public void Ids_hashes_timestamps_and_amounts_are_not_card_data(string text)
    {
        var scanner = NewScanner();

        scanner.ScanText("control", "text", text);

        Assert.Empty(scanner.Findings);
    }

    /// <summary>
    /// The leak scan waits for a canary in the logs. Made of a Guid's hex, about one canary in 130 held a Luhn-valid
    /// run the redactor masked, and the scan failed waiting for a line that had arrived rewritten.
    /// </summary>
    [Fact]
    public void A_log_marker_passes_the_redactor_unchanged()
    {
        var markers = Enumerable.Range(0, 20_000).Select(_ => LogMarker.New("leak-scan-canary-")).ToList();

        Assert.Equal(markers.Count, markers.Distinct(StringComparer.Ordinal).Count());
        Assert.All(markers, m => Assert.Equal(m, LogRedactor.Redact(m)));
    }

    [Fact]
    public async Task A_card_number_planted_in_a_database_row_and_in_redis_is_found()
    {
        var gateway = await SecurityGateway.SharedAsync();
        var db = await gateway.Postgres.CreateDatabaseAsync("planted");
        await using (var conn = new NpgsqlConnection(db))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                "CREATE SCHEMA shop; CREATE TABLE shop.notes (id int, note text, blob bytea); " +
                "INSERT INTO shop.notes VALUES (1, 'nothing here', NULL), (2, 'customer said 4000 0566 5566 5556', NULL), (3, NULL, convert_to('4242424242424242', 'UTF8'))", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var key = "security-suite:planted:" + Guid.NewGuid().ToString("N");
        await using var redis = await ConnectionMultiplexer.ConnectAsync(gateway.Redis.ConnectionString);
        await redis.GetDatabase().HashSetAsync(key, "card", "5555555555554444", flags: CommandFlags.None);
        try
        {
            var scanner = NewScanner();

            await scanner.ScanDatabaseAsync("planted-db", db);
            var keys = await scanner.ScanRedisAsync(gateway.Redis.Endpoint);

            Assert.Contains(scanner.Findings, f => f.Source == "planted-db" && f.Where == "shop.notes" && f.Kind.StartsWith("Luhn", StringComparison.Ordinal));
            Assert.Contains(scanner.Findings, f => f.Source == "planted-db" && f.Kind.Contains("hex-encoded", StringComparison.Ordinal));
            Assert.Contains(scanner.Findings, f => f.Source == "redis" && f.Where.Contains(key, StringComparison.Ordinal));
            Assert.True(keys >= 1);
        }
        finally
        {
            await redis.GetDatabase().KeyDeleteAsync(key);
        }
    }
}

/// <summary>
/// After the other suites: no card number (any Luhn-valid 13–19 digit run) and no CVC used by the suites in the
/// logs of the Host and the Vault, any table of the Host's database, Redis, or any HTTP answer recorded; the
/// Vault's database holds card numbers only encrypted.
/// </summary>
[Collection(Suites.LeakScan)]
public sealed class CardDataLeakTests(ITestOutputHelper output)
{
    [Fact]
    public async Task No_card_data_in_logs_host_database_redis_or_answers_and_none_in_plaintext_in_the_vault()
    {
        var suite = await SuiteData.GetAsync();
        var gateway = suite.Gateway;
        await MakeRiskyRequestsAsync(suite);
        await FlushLogsAsync(gateway);

        var scanner = new CardDataScanner(SuiteData.KnownPans, SuiteData.KnownCvcs);
        var logs = CapturedOutput.LogText();
        foreach (var (line, n) in logs.Split('\n').Select((l, i) => (l, i + 1)))
        {
            scanner.ScanText("logs", $"line {n}", line);
        }
        await scanner.ScanDatabaseAsync("host database", gateway.HostConnectionString);
        var redisKeys = await scanner.ScanRedisAsync(gateway.Redis.Endpoint);
        var responses = CapturedOutput.RecordedResponses;
        foreach (var r in responses)
        {
            if (r.Path.EndsWith("/metrics", StringComparison.Ordinal))
            {
                continue; // scraped below, names and labels only: a float sample is a run of digits
            }
            // The card-entry page shows a sample number as a hint (static text); the cards the suites used must still never appear in it.
            scanner.ScanText("http answers", $"{r.Method} {Cut(r.Path)} → {r.Status}", r.Body,
                anyLuhnRun: !r.Path.EndsWith("/card-entry", StringComparison.Ordinal));
        }
        // Telemetry: every exported span (names, attributes, events, links' state) and every metric label.
        var spans = gateway.ExportedSpans.Snapshot();
        foreach (var span in spans)
        {
            scanner.ScanText("spans", span.DisplayName, SpanText(span));
        }
        var scrapes = new List<string>();
        foreach (var (name, server) in new[] { ("host", gateway.Host.BaseAddress), ("vault", gateway.Vault.BaseAddress) })
        {
            using var metrics = new HttpClient { BaseAddress = server };
            var text = await metrics.GetStringAsync(new Uri("metrics", UriKind.Relative));
            scrapes.Add(text);
            foreach (var (line, n) in text.Split('\n').Select((l, i) => (l, i + 1)))
            {
                // Names, help and labels; not the sample's value (a float sum such as 1.0000000000000001 is digits).
                var labels = line.StartsWith('#') ? line : line[..Math.Max(0, line.LastIndexOf(' '))];
                scanner.ScanText("metrics", $"{name} line {n}", labels);
            }
        }
        var vault = new CardDataScanner(SuiteData.KnownPans, SuiteData.KnownCvcs);
        await vault.ScanDatabaseAsync("vault database", gateway.VaultConnectionString);

        var hostRows = await CountRowsAsync(gateway.HostConnectionString);
        var vaultRows = await CountRowsAsync(gateway.VaultConnectionString);
        output.WriteLine($"scanned: {logs.Split('\n').Length} log lines, {hostRows} Host rows, {redisKeys} Redis keys, {responses.Count} answers, {vaultRows} Vault rows, {spans.Length} spans, {scrapes.Sum(s => s.Length)} bytes of metrics");
        foreach (var f in scanner.Findings.Concat(vault.Findings).Take(50))
        {
            output.WriteLine(f.ToString());
        }
        Assert.True(logs.Length > 0 && responses.Count > 0 && hostRows > 0, "nothing was captured: the scan would prove nothing");
        Assert.Contains(spans, s => s.Source.Name == "Payments.Vault"); // the Vault's card uses were traced and scanned
        Assert.All(scrapes, s => Assert.Contains("http_server_request_duration", s, StringComparison.Ordinal));
        Assert.Empty(scanner.Findings.Concat(vault.Findings).Select(f => f.ToString()));
    }

    /// <summary>The mistakes a merchant makes with card data, so the scan has something to catch if the gateway keeps it.</summary>
    private static async Task MakeRiskyRequestsAsync(SuiteData suite)
    {
        using var http = suite.Gateway.HostClient(suite.A.AccessToken);
        var pan = HostileRequests.PlantedPans[0];
        var spaced = string.Join(' ', pan.Chunk(4).Select(c => new string(c)));
        var bodies = new (string Path, object Body)[]
        {
            ("/v1/payment-intents", new Dictionary<string, object> { ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = pan }),
            ("/v1/payment-intents", new Dictionary<string, object> { ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "o-1", ["description"] = "card " + spaced }),
            ("/v1/payment-intents", new Dictionary<string, object> { ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "o-2", ["metadata"] = new Dictionary<string, string> { ["note"] = pan } }),
            ("/v1/payment-intents", new Dictionary<string, object> { ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "o-3", ["card_token"] = pan }),
            ("/v1/transactions", new Dictionary<string, object> { ["operation"] = "authorize", ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "o-4", ["card_token"] = pan }),
            ("/v1/transactions", new Dictionary<string, object> { ["operation"] = "authorize", ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "o-5", ["card_token"] = "tok_x", ["external_id"] = spaced }),
            ("/v1/tokenization-intents", new Dictionary<string, object> { ["metadata"] = new Dictionary<string, string> { ["pan"] = pan, ["cvc"] = SuiteData.CvcA } }),
            ("/v1/tokenization-intents", new Dictionary<string, object> { ["number"] = pan, ["cvc"] = SuiteData.CvcA }),
        };
        foreach (var (path, body) in bodies)
        {
            var answer = await Json.SendAsync(http, HttpMethod.Post, path, body, idempotencyKey: Guid.NewGuid().ToString());
            Assert.True(answer.Status < 500, $"POST {path} answered {answer.Status}");
        }
        // A card number as the Idempotency-Key of a request that succeeds, so the key is kept.
        var keyed = await Json.SendAsync(http, HttpMethod.Post, "/v1/payment-intents",
            new Dictionary<string, object> { ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "o-7" }, idempotencyKey: pan);
        Assert.Equal(201, keyed.Status);
        // A card number where a name or an id goes: a field's name, a path segment, a query parameter's name.
        var named = await Json.SendAsync(http, HttpMethod.Post, "/v1/payment-intents",
            new Dictionary<string, object> { ["amount"] = 100, ["currency"] = "EUR", ["order_id"] = "o-6", [pan] = "x" }, idempotencyKey: Guid.NewGuid().ToString());
        Assert.Equal(400, named.Status);
        Assert.Equal(404, (await Json.SendAsync(http, HttpMethod.Get, "/v1/transactions/" + pan)).Status);
        // No route at all (404), and a route without that method (405): the framework's own answers name the path too.
        Assert.Equal(404, (await Json.SendAsync(http, HttpMethod.Get, "/v1/cards/" + pan)).Status);
        Assert.Equal(405, (await Json.SendAsync(http, HttpMethod.Put, "/v1/transactions/" + pan, new { })).Status);
        Assert.Equal(400, (await Json.SendAsync(http, HttpMethod.Get, $"/v1/transactions?start_date=01/01/2020&end_date=01/01/2030&{pan}=%01")).Status);
        // A JSON body labelled as a form: the token route read it as one field whose name is the whole body.
        using (var form = new StringContent($$"""{"client_id":"{{pan}}","client_secret":"x"}""", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"))
        using (var anonymous = suite.Gateway.HostClient())
        using (var token = await anonymous.PostAsync("/v1/auth/token", form))
        {
            Assert.Equal(400, (int)token.StatusCode);
        }
        _ = await Json.SendAsync(http, HttpMethod.Get, "/v1/transactions/lookup?id_type=external_id&id=" + pan);
        _ = await Json.SendAsync(http, HttpMethod.Get, "/v1/transactions/lookup?id_type=order_id&id=" + Uri.EscapeDataString(spaced));
        // A card refused by the Vault (bad expiry) and a declined card: both paths log.
        using var host = suite.Gateway.HostClient(suite.A.AccessToken);
        var intent = await Json.SendAsync(host, HttpMethod.Post, "/v1/tokenization-intents", new { });
        if (intent.Status == 201)
        {
            using var vault = suite.Gateway.VaultClient();
            var refused = await Json.SendAsync(vault, HttpMethod.Post, $"/v1/tokenization-intents/{intent.String("id")}/card", new Dictionary<string, object>
            {
                ["client_secret"] = intent.String("client_secret"), ["number"] = SuiteData.DeclinedPan, ["exp_month"] = 13, ["exp_year"] = 2001,
                ["cvc"] = SuiteData.CvcB, ["holder_name"] = "Security Suite",
            });
            Assert.Equal(400, refused.Status);
            var declined = await Merchants.SubmitCardAsync(suite.Gateway, intent.String("id"), intent.String("client_secret"), SuiteData.DeclinedPan, SuiteData.CvcB);
            Assert.Equal(201, declined.Status);
        }
    }

    /// <summary>The console logger writes on a background queue: a canary at the end of each queue proves it is drained.</summary>
    private static async Task FlushLogsAsync(SecurityGateway gateway)
    {
        foreach (var services in new[] { gateway.HostServices, gateway.Vault.Services })
        {
            var canary = LogMarker.New("leak-scan-canary-");
            var mark = CapturedOutput.LogLength;
            services.GetRequiredService<ILoggerFactory>().CreateLogger("Payments.Security.Tests").LogWarning("{Canary}", canary);
            // Polls only what arrived since: copying megabytes of logs under the writer's lock every 50 ms slowed the
            // console logger's own writes enough, once, for the canary to miss a 10 s wait.
            var until = DateTime.UtcNow.AddSeconds(30);
            while (!CapturedOutput.LogTextSince(mark).Contains(canary, StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < until, "the logs were not captured (the canary never arrived)");
                await Task.Delay(50);
            }
        }
    }

    private static async Task<long> CountRowsAsync(string connectionString)
    {
        var snapshot = await DatabaseSnapshot.TakeAsync(connectionString);
        return snapshot.Tables.Values.Sum(t => t.Rows);
    }

    private static string SpanText(Activity span) =>
        string.Join('\n', new[] { span.DisplayName, span.StatusDescription ?? "" }
            .Concat(span.TagObjects.Select(t => $"{t.Key}={t.Value}"))
            .Concat(span.Events.SelectMany(e => e.Tags.Select(t => $"{e.Name} {t.Key}={t.Value}")))
            .Concat(span.Baggage.Select(b => $"{b.Key}={b.Value}")));

    private static string Cut(string s) => s.Length > 80 ? s[..80] + "…" : s;
}
