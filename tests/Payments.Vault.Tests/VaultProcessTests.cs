using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Payments.TestKit;

namespace Payments.Vault.Tests;

/// <summary>The Host and the Vault as real processes on real sockets (as run.sh starts them), one merchant with a stored card.</summary>
public sealed class VaultProcessesFixture : IAsyncLifetime
{
    public GatewayProcesses Processes { get; private set; } = null!;
    public string MerchantId { get; private set; } = "";
    public string IntentId { get; private set; } = "";
    public string CardToken { get; private set; } = "";
    public HttpClient Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Processes = await GatewayProcesses.StartAsync(new GatewayProcessOptions { Durable = false });
        var created = await Processes.RunHostCommandAsync("merchant", "create", "--name", "Boundary suite");
        using var merchant = JsonDocument.Parse(created.Trim().Split('\n').Last());
        MerchantId = merchant.RootElement.GetProperty("merchant_id").GetString()!;
        Host = new HttpClient { BaseAddress = Processes.HostUrl, Timeout = TimeSpan.FromSeconds(30) };
        using var token = await Host.PostAsJsonAsync("/v1/auth/token", new Dictionary<string, string>
        {
            ["client_id"] = merchant.RootElement.GetProperty("client_id").GetString()!,
            ["client_secret"] = merchant.RootElement.GetProperty("client_secret").GetString()!,
        });
        token.EnsureSuccessStatusCode();
        Host.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer",
            JsonDocument.Parse(await token.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString());
        (IntentId, var secret) = await CreateIntentAsync(null);
        using var vault = new HttpClient { BaseAddress = Processes.VaultUrl };
        using var card = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{IntentId}/card", new Dictionary<string, object>
        {
            ["client_secret"] = secret, ["number"] = "4242424242424242", ["exp_month"] = 12,
            ["exp_year"] = DateTime.UtcNow.Year + 2, ["cvc"] = "123",
        });
        card.EnsureSuccessStatusCode();
        CardToken = JsonDocument.Parse(await card.Content.ReadAsStringAsync()).RootElement.GetProperty("card_token").GetString()!;
    }

    /// <summary>A tokenization intent made through the Host (which registers it at the Vault).</summary>
    public async Task<(string Id, string Secret)> CreateIntentAsync(string? clientRequestId)
    {
        var (id, secret, _) = await CreateIntentWithRequestIdAsync(clientRequestId);
        return (id, secret);
    }

    /// <summary>As <see cref="CreateIntentAsync"/>, sending <paramref name="clientRequestId"/> as Request-Id, with the id the Host answered.</summary>
    public async Task<(string Id, string Secret, string RequestId)> CreateIntentWithRequestIdAsync(string? clientRequestId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/tokenization-intents") { Content = JsonContent.Create(new { }) };
        if (clientRequestId is not null)
        {
            request.Headers.Add("Request-Id", clientRequestId);
        }
        using var answer = await Host.SendAsync(request);
        answer.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        return (json.RootElement.GetProperty("id").GetString()!, json.RootElement.GetProperty("client_secret").GetString()!,
            answer.Headers.GetValues("Request-Id").Single());
    }

    public async Task DisposeAsync()
    {
        Host?.Dispose();
        if (Processes is not null)
        {
            await Processes.DisposeAsync();
        }
    }
}

public sealed class VaultProcessTests(VaultProcessesFixture gateway) : IClassFixture<VaultProcessesFixture>
{
    /// <summary>
    /// One request written byte for byte on a socket: no client library normalizes the path (dot segments, double
    /// slashes, percent-encoding and case reach the server as an attacker sends them).
    /// </summary>
    private static async Task<(int Status, string Body)> RawAsync(Uri server, string method, string target, string? body = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port);
        await using var stream = tcp.GetStream();
        var bytes = Encoding.UTF8.GetBytes(body ?? "");
        var head = $"{method} {target} HTTP/1.1\r\nHost: {server.Authority}\r\nConnection: close\r\n" +
                   (body is null ? "" : $"Content-Type: application/json\r\nContent-Length: {bytes.Length}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(bytes);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        // A server that kept the connection open despite "Connection: close" fails the test rather than hanging it.
        using var read = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var all = await reader.ReadToEndAsync(read.Token);
        var status = int.Parse(all.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        var split = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (status, split < 0 ? "" : all[(split + 4)..]);
    }

    /// <summary>Every internal route, each spelt in ways routing treats as the same route and text matching does not.</summary>
    private IEnumerable<(string Method, string Target, string? Body)> Variants()
    {
        var routes = new (string Method, string Path, string? Body)[]
        {
            ("GET", "/internal/v1/tokenization-intents-succeeded?after=0&limit=1000", null),
            ("GET", $"/internal/v1/tokenization-intents/{gateway.IntentId}", null),
            ("PUT", "/internal/v1/tokenization-intents/tki_probe", """{"intent_id":"tki_probe","client_secret_sha256":"00","expires_at":"2099-01-01T00:00:00Z"}"""),
            ("GET", $"/internal/v1/cards/{gateway.CardToken}", null),
            ("DELETE", $"/internal/v1/cards/{gateway.CardToken}", null),
            ("POST", "/internal/v1/acquirer/authorize", $$"""{"card_token":"{{gateway.CardToken}}","amount":100,"currency":"USD","reference":"trx_probe","capture":false}"""),
            ("POST", "/internal/v1/acquirer/refund", $$"""{"card_token":"{{gateway.CardToken}}","amount":100,"currency":"USD","reference":"trx_probe","capture":false}"""),
        };
        foreach (var (method, path, body) in routes)
        {
            var rest = path["/internal".Length..];
            foreach (var spelt in new[]
                     {
                         path, "/INTERNAL" + rest, "/Internal" + rest.Replace("/v1/", "/V1/", StringComparison.Ordinal),
                         "/%69nternal" + rest, "/%49NTERNAL" + rest, "//internal" + rest, "/x/../internal" + rest,
                         "/internal/./" + rest.TrimStart('/'), "/internal%2F" + rest.TrimStart('/'),
                     })
            {
                yield return (method, spelt, body);
            }
        }
    }

    [Fact]
    public async Task No_spelling_of_an_internal_route_answers_on_the_public_port_or_unsigned_on_the_internal_port()
    {
        var failures = new List<string>();
        foreach (var (method, target, body) in Variants())
        {
            var (publicStatus, publicBody) = await RawAsync(gateway.Processes.VaultUrl, method, target, body);
            var (internalStatus, internalBody) = await RawAsync(gateway.Processes.VaultInternalUrl, method, target, body);
            if (publicStatus is not (404 or 400) || Leaks(publicBody))
            {
                failures.Add($"public {method} {target}: {publicStatus} {publicBody}");
            }
            if (internalStatus is not (401 or 404 or 400) || Leaks(internalBody))
            {
                failures.Add($"internal {method} {target}: {internalStatus} {internalBody}");
            }
        }

        Assert.Empty(failures);
        // The card is still there: no unsigned DELETE got through.
        using var shown = await gateway.Host.GetAsync($"/v1/tokenization-intents/{gateway.IntentId}");
        Assert.Contains(gateway.CardToken, await shown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A route of another listener asked for with another method: routing's method check used to see it and answer
    /// 405, telling the public port that an internal route exists there. Each method is tried on every internal path;
    /// the public and management ports answer 404, the internal port still 405 (so the check can tell them apart).
    /// </summary>
    [Fact]
    public async Task A_wrong_method_on_an_internal_route_is_not_found_on_the_other_listeners()
    {
        var failures = new List<string>();
        var internalPaths = new[]
        {
            "/internal/v1/acquirer/authorize", "/internal/v1/acquirer/refund", $"/internal/v1/cards/{gateway.CardToken}",
            "/internal/v1/tokenization-intents/tki_probe", "/internal/v1/tokenization-intents-succeeded",
        };
        var sawMethodNotAllowedInside = false;
        foreach (var path in internalPaths)
        {
            foreach (var method in new[] { "GET", "POST", "PUT", "PATCH", "DELETE" })
            {
                var (internalStatus, _) = await RawAsync(gateway.Processes.VaultInternalUrl, method, path);
                sawMethodNotAllowedInside |= internalStatus == 405;
                foreach (var other in new[] { gateway.Processes.VaultUrl, gateway.Processes.VaultManagementUrl })
                {
                    var (status, body) = await RawAsync(other, method, path);
                    if (status != 404 || Leaks(body))
                    {
                        failures.Add($"{other.Port} {method} {path}: {status}");
                    }
                }
            }
        }

        Assert.Empty(failures);
        Assert.True(sawMethodNotAllowedInside, "the internal port answers 405 to a wrong method, so 404 elsewhere is the listener's doing");
    }

    private bool Leaks(string body) =>
        body.Contains(gateway.CardToken, StringComparison.Ordinal) || body.Contains(gateway.MerchantId, StringComparison.Ordinal) ||
        body.Contains("last4", StringComparison.Ordinal) || body.Contains("approved", StringComparison.Ordinal);

    [Fact]
    public async Task Failed_card_entry_posts_from_one_address_are_limited_across_intents()
    {
        // A made-up id is recorded as malformed, not as typed (it could hold a card number).
        const string Refused = "SELECT count(*) FROM vault.audit_log WHERE action = 'card_entry.refused' AND subject IS NULL " +
                               "AND detail::jsonb ->> 'intent_id' = 'malformed' AND detail::jsonb ->> 'source' = '127.0.0.1'";
        var before = await VaultCountAsync(Refused);
        var statuses = new List<int>();
        for (var i = 0; i < 31; i++)
        {
            // A different unknown intent each time: only the per-address limit can stop this.
            var (status, _) = await RawAsync(gateway.Processes.VaultUrl, "POST", $"/v1/tokenization-intents/tki_guess{i}/card",
                """{"client_secret":"tki_guess_secret_0","number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123"}""");
            statuses.Add(status);
        }

        Assert.All(statuses.Take(30), s => Assert.Equal(404, s));
        Assert.Equal(429, statuses[30]);
        // Each failure is on record with the address it came from.
        Assert.Equal(before + 30, await VaultCountAsync(Refused));
    }

    private async Task<long> VaultCountAsync(string sql)
    {
        await using var conn = new Npgsql.NpgsqlConnection(gateway.Processes.VaultConnectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand(sql, conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Each_log_line_has_one_request_id_and_the_vaults_is_the_hosts()
    {
        // A caller's Request-Id is logged as client_request_id; request_id is the Host's own, in both processes.
        var sent = LogMarker.New("corr_");
        var (_, _, requestId) = await gateway.CreateIntentWithRequestIdAsync(sent);
        Assert.NotEqual(sent, requestId);

        var vaultLines = await VaultLinesOnceLoggedAsync(requestId);
        var hostLines = await LinesOnceLoggedAsync(gateway.Processes.Hosts[0].LogFile, requestId);

        var mine = vaultLines.Where(l => l.GetValueOrDefault("request_id") == requestId).ToList();
        Assert.NotEmpty(mine);
        Assert.All(mine, l => Assert.StartsWith("vrq_", l["vault_request_id"], StringComparison.Ordinal));
        Assert.NotEmpty(hostLines);
        Assert.Contains(hostLines, l => l.GetValueOrDefault("request_id") == requestId && l.GetValueOrDefault("client_request_id") == sent);
        Assert.DoesNotContain(vaultLines.Concat(hostLines), l => l.GetValueOrDefault("request_id") == sent);
    }

    /// <summary>
    /// The contract's "every answer carries a Request-Id, also written in the logs" holds for the Vault's public answers
    /// too: the id a cardholder's card submission got is on an access line in the Vault's log and in the audit row of the
    /// card it stored, so whoever quotes it can be traced.
    /// </summary>
    [Fact]
    public async Task The_request_id_of_a_card_submission_is_in_the_vaults_log_and_its_audit_row()
    {
        var (intentId, secret) = await gateway.CreateIntentAsync(null);
        using var vault = new HttpClient { BaseAddress = gateway.Processes.VaultUrl };

        // A Request-Id of the caller's choosing (another request's, say) is neither answered nor audited.
        const string chosen = "req_<script>";
        using var submission = new HttpRequestMessage(HttpMethod.Post, $"/v1/tokenization-intents/{intentId}/card")
        {
            Content = JsonContent.Create(new Dictionary<string, object>
            {
                ["client_secret"] = secret, ["number"] = "4242424242424242", ["exp_month"] = 12,
                ["exp_year"] = DateTime.UtcNow.Year + 2, ["cvc"] = "123",
            }),
        };
        submission.Headers.TryAddWithoutValidation("Request-Id", chosen);
        using var card = await vault.SendAsync(submission);
        Assert.Equal(HttpStatusCode.Created, card.StatusCode);
        var answered = Assert.Single(card.Headers.GetValues("Request-Id"));
        Assert.NotEqual(chosen, answered);
        Assert.StartsWith("req_", answered, StringComparison.Ordinal);

        var lines = (await VaultLinesOnceLoggedAsync(answered)).Where(l => l.GetValueOrDefault("request_id") == answered).ToList();
        Assert.Contains(lines, l => l.GetValueOrDefault("message", "").Contains("answered 201", StringComparison.Ordinal));
        await using var db = new Npgsql.NpgsqlConnection(gateway.Processes.VaultConnectionString);
        await db.OpenAsync();
        await using var audit = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM vault.audit_log WHERE action = 'card.tokenized' AND detail::jsonb ->> 'answer_request_id' = $1", db);
        audit.Parameters.AddWithValue(answered);
        Assert.Equal(1L, (long)(await audit.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task The_public_listener_says_the_vault_is_up_and_keeps_its_security_state_for_operators()
    {
        using var http = new HttpClient();
        var vault = gateway.Processes.Vault;

        using var outside = JsonDocument.Parse(await http.GetStringAsync(new Uri(vault.BaseUrl, "/health/live")));
        using var operators = JsonDocument.Parse(await http.GetStringAsync(
            new Uri($"http://127.0.0.1:{gateway.Processes.ManagementPortOf(vault.Port)}/health/live")));

        Assert.Equal("Healthy", outside.RootElement.GetProperty("status").GetString());
        Assert.False(outside.RootElement.TryGetProperty("audit_chain", out _));
        Assert.False(outside.RootElement.TryGetProperty("acquirer", out _));
        Assert.True(operators.RootElement.TryGetProperty("audit_chain", out _));
    }

    /// <summary>
    /// Registering an intent is a signed call the Vault answers 204 with no body. Kestrel refuses any write to a 204
    /// once it has started: the signing middleware used to write the empty buffer anyway, so each registration logged
    /// an unhandled exception and the Host could see the connection break instead of the answer.
    /// </summary>
    [Fact]
    public async Task Signed_answers_without_a_body_reach_the_host_without_an_unhandled_exception()
    {
        var marker = LogMarker.New("req_empty_");
        for (var i = 0; i < 5; i++)
        {
            await gateway.CreateIntentAsync(marker + "_" + i);
        }

        // The exception's lines are written after the request's scope ended, so they carry no request id: any
        // unhandled exception in the Vault's log fails the test (none is ever expected).
        var unhandled = (await VaultLinesOnceLoggedAsync(marker + "_4"))
            .Where(l => l.GetValueOrDefault("level") is "Error" or "Critical")
            .Where(l => l.GetValueOrDefault("category", "").StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal))
            .Select(l => l.GetValueOrDefault("exception_type") + ": " + l.GetValueOrDefault("message"))
            .ToList();
        Assert.Empty(unhandled);
    }

    /// <summary>
    /// The Vault's log lines once the one of <paramref name="requestId"/> is there (or after 15 s): the Vault writes
    /// its access line before answering, and the test kit's reader copies the file as lines arrive.
    /// </summary>
    private Task<List<Dictionary<string, string>>> VaultLinesOnceLoggedAsync(string requestId) =>
        LinesOnceLoggedAsync(gateway.Processes.Vault.LogFile, requestId);

    private static async Task<List<Dictionary<string, string>>> LinesOnceLoggedAsync(string file, string requestId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var lines = ParseLines(file);
            if (lines.Any(l => l.GetValueOrDefault("request_id") == requestId) || DateTime.UtcNow > deadline)
            {
                return lines;
            }
            await Task.Delay(100);
        }
    }

    /// <summary>Every JSON line of a log, failing on any key that appears twice in one line.</summary>
    private static List<Dictionary<string, string>> ParseLines(string file)
    {
        using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(fs);
        var lines = new List<Dictionary<string, string>>();
        while (reader.ReadLine() is { } line)
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            var json = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            json.Read();
            while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
            {
                var key = json.GetString()!;
                json.Read();
                var value = json.TokenType == JsonTokenType.String ? json.GetString()! : json.TokenType.ToString();
                Assert.True(fields.TryAdd(key, value), $"key '{key}' repeats in: {line}");
                if (json.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    json.Skip();
                }
            }
            lines.Add(fields);
        }
        return lines;
    }
}
