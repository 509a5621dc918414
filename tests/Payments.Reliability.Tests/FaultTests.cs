using System.Collections.Concurrent;
using System.Text.Json;
using Payments.Security.Tests.Kit;
using Payments.TestKit;
using Xunit.Abstractions;

namespace Payments.Reliability.Tests;

/// <summary>
/// A bounded load of authorize, capture, void (and refund, when the gateway has it) with Idempotency-Keys on two
/// Hosts while one part of the gateway fails and comes back. After each scenario: every 2xx answer is in the
/// database exactly once with the acknowledged amounts; no money invariant is broken; the same keys replay the
/// original answers; failures during the outage were 503 problems, never a 500 or a hang; the gateway recovered
/// without help; and no card data reached a log, the Host's database or Redis.
/// </summary>
public sealed class FaultTests(FaultGateway gateway, ITestOutputHelper output) : IClassFixture<FaultGateway>
{
    private static readonly bool Long = Environment.GetEnvironmentVariable("PAYMENTS_FAULT_LONG") is { Length: > 0 } v && v != "0";
    private static readonly TimeSpan LoadFor = TimeSpan.FromSeconds(Long ? 60 : 9);
    private static readonly TimeSpan FaultAfter = TimeSpan.FromSeconds(Long ? 15 : 2.5);
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(Long ? 15 : 3);
    private static readonly int Workers = Long ? 12 : 4;

    private static int sequence;



    [Fact]
    public Task A_host_killed_mid_load_and_restarted_loses_and_duplicates_nothing() =>
        RunAsync("kill -9 host0", async p =>
        {
            await p.Hosts[0].KillAsync();
            await Task.Delay(Outage);
            await p.Hosts[0].StartAsync(TimeSpan.FromSeconds(120));
        });

    [Fact]
    public Task Redis_stopped_for_a_while_loses_and_duplicates_nothing() =>
        RunAsync("stop Redis", async p =>
        {
            await p.Redis.StopProcessAsync();
            await Task.Delay(Outage);
            await p.Redis.StartProcessAsync();
        });

    [Fact]
    public Task Postgres_restarted_mid_load_loses_and_duplicates_nothing() =>
        RunAsync("restart PostgreSQL", async p =>
        {
            await p.StopPostgresAsync();
            await Task.Delay(Outage);
            await p.StartPostgresAsync();
        });

    [Fact]
    public Task The_vault_killed_mid_load_and_restarted_loses_and_duplicates_nothing() =>
        RunAsync("kill -9 Vault", async p =>
        {
            await p.Vault.KillAsync();
            await Task.Delay(Outage);
            await p.Vault.StartAsync(TimeSpan.FromSeconds(120));
        });

    private async Task RunAsync(string scenario, Func<GatewayProcesses, Task> fault)
    {
        var p = gateway.Processes;
        // Letters only after the scenario number: with hex digits, "s1-25115464377-7" once read as a Luhn-valid
        // card number across its dashes, and the gateway rightly refused that order_id.
        var tag = $"s{Interlocked.Increment(ref sequence)}-" + string.Concat(Guid.NewGuid().ToString("N")[..10].Select(c => (char)('a' + Convert.ToInt32(c.ToString(), 16))));
        using var client = new LoadClient(p.Hosts.Select(h => h.BaseUrl), gateway.AccessToken);
        var flows = new ConcurrentQueue<PaymentFlow>();
        var broken = new ConcurrentQueue<string>();
        var count = 0;

        using var loadEnd = new CancellationTokenSource(LoadFor);
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            while (!loadEnd.IsCancellationRequested)
            {
                var flow = new PaymentFlow($"{tag}-{Interlocked.Increment(ref count)}", Random.Shared.Next(1_000, 10_000));
                flows.Enqueue(flow);
                await RunFlowAsync(flow, client, w, loadEnd.Token);
            }
        })).ToList();
        var faultStarted = DateTime.MinValue;
        var faultTask = Task.Run(async () =>
        {
            await Task.Delay(FaultAfter);
            faultStarted = DateTime.UtcNow;
            await fault(p);
        });
        await Task.WhenAll(workers);
        await faultTask;

        // The gateway recovers by itself: both Hosts serve payments again without anyone restarting them.
        foreach (var (host, i) in p.Hosts.Select((h, i) => (h, i)))
        {
            await host.WaitReadyAsync(TimeSpan.FromSeconds(120));
            if (!await ProbeAsync(client, i))
            {
                broken.Enqueue($"{host.Name} did not authorize a payment within 60 s of the recovery");
            }
        }

        // Whatever was left without a final answer is retried with its own key, as the merchant would.
        var all = flows.SelectMany(f => f.Requests).ToList();
        using var resolveBy = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        foreach (var r in all.Where(r => r.FinalStatus is null))
        {
            if (!await client.CallUntilFinalAsync(r, 0, resolveBy.Token))
            {
                broken.Enqueue($"no final answer within 90 s after recovery: {r}");
            }
        }

        var found = await VerifyAsync(client, flows.ToList(), broken);
        await ReplayAsync(client, all, broken);
        foreach (var r in all)
        {
            foreach (var a in r.Attempts)
            {
                if (a.TimedOut)
                {
                    broken.Enqueue($"no answer within {LoadClient.ClientTimeout.TotalSeconds:0} s (a hang) on host{a.Host} at {a.At:HH:mm:ss.fff}: {r}");
                }
                else if (a.Status is >= 500 and not 503)
                {
                    broken.Enqueue($"{a.Status} on host{a.Host} at {a.At:HH:mm:ss.fff}: {r}");
                }
                else if (a.Status == 503 && a.MediaType != "application/problem+json")
                {
                    broken.Enqueue($"a 503 that is not a problem ({a.MediaType}) on host{a.Host}: {r}");
                }
            }
        }
        await ScanForCardDataAsync(p, broken);
        await CheckRefundReservationsAsync(p, broken);

        var attempts = all.Sum(r => r.Attempts.Count);
        var acknowledged = all.Count(r => r.Acknowledged);
        var unavailable = all.Sum(r => r.Attempts.Count(a => a.Status == 503));
        var inProgress = all.Sum(r => r.Attempts.Count(a => a.Code == "idempotency_request_in_progress"));
        var refused = all.Sum(r => r.Attempts.Count(LoadClient.IsConnectionRefusal));
        output.WriteLine($"fault at {faultStarted:HH:mm:ss.fff}; load {LoadFor.TotalSeconds:0} s, {Workers} clients, outage {Outage.TotalSeconds:0} s");
        output.WriteLine("| scenario | sent | attempts | acknowledged | 503 | 409 in progress | no connection | found | broken |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|");
        output.WriteLine($"| {scenario} | {all.Count} | {attempts} | {acknowledged} | {unavailable} | {inProgress} | {refused} | {found} | {broken.Count} |");
        foreach (var b in broken.Take(40))
        {
            output.WriteLine("BROKEN " + b);
        }
        Assert.True(acknowledged > 0, "no request was acknowledged: the load proved nothing");
        Assert.True(broken.IsEmpty, $"{broken.Count} broken in '{scenario}':\n" + string.Join("\n", broken.Take(20)));
    }

    private async Task RunFlowAsync(PaymentFlow flow, LoadClient client, int worker, CancellationToken stop)
    {
        var declined = Random.Shared.Next(10) == 0;
        var card = declined ? gateway.DeclinedCard : gateway.ApprovedCards[Random.Shared.Next(gateway.ApprovedCards.Length)];
        var authorize = Add(flow, "authorize", "/v1/transactions", new Dictionary<string, object>
        {
            ["operation"] = "authorize",
            ["amount"] = flow.Amount,
            ["currency"] = "EUR",
            ["card_token"] = card,
            ["order_id"] = flow.OrderId,
        }, flow.Amount);
        if (!await client.CallUntilFinalAsync(authorize, worker, stop) || authorize.FinalStatus != 201)
        {
            return;
        }
        var trx = authorize.FinalJson;
        flow.TrxId = trx.GetProperty("trx_id").GetString();
        if (trx.GetProperty("status").GetString() != "AUTHORIZED")
        {
            return;
        }
        var first = Random.Shared.NextInt64(1, flow.Amount / 2);
        var capture = Add(flow, "capture", $"/v1/transactions/{flow.TrxId}", new Dictionary<string, object> { ["operation"] = "capture", ["amount"] = first }, first);
        if (!await client.CallUntilFinalAsync(capture, worker, stop) || capture.FinalStatus != 200)
        {
            return;
        }
        var rest = flow.Amount - first;
        var op = Random.Shared.Next(2) == 0 ? "void" : "capture";
        var second = Add(flow, op, $"/v1/transactions/{flow.TrxId}", new Dictionary<string, object> { ["operation"] = op, ["amount"] = rest }, rest);
        if (!await client.CallUntilFinalAsync(second, worker, stop) || second.FinalStatus != 200 || !gateway.HasRefunds)
        {
            return;
        }
        var captured = first + (op == "capture" ? rest : 0);
        var amount = Random.Shared.NextInt64(1, captured + 1);
        var refund = Add(flow, "refund", $"/v1/transactions/{flow.TrxId}/refunds", new Dictionary<string, object> { ["amount"] = amount }, amount);
        await client.CallUntilFinalAsync(refund, worker, stop);
    }

    private static LedgerRequest Add(PaymentFlow flow, string kind, string path, Dictionary<string, object> body, long amount)
    {
        var r = new LedgerRequest(kind, "POST", path, JsonSerializer.Serialize(body), amount);
        flow.Requests.Add(r);
        return r;
    }

    private async Task<bool> ProbeAsync(LoadClient client, int host)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        var probe = new LedgerRequest("authorize", "POST", "/v1/transactions", JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["operation"] = "authorize", ["amount"] = 100, ["currency"] = "EUR", ["card_token"] = gateway.ApprovedCards[0], ["order_id"] = "probe-" + Guid.NewGuid().ToString("N")[..8],
        }), 100);
        while (DateTime.UtcNow < until)
        {
            var (attempt, _, _, _, _) = await client.SendOnceAsync(probe, host);
            if (attempt.Status == 201)
            {
                return true;
            }
            await Task.Delay(250);
        }
        return false;
    }

    /// <summary>Each acknowledged answer against what the gateway now holds; returns how many were found as acknowledged.</summary>
    private static async Task<int> VerifyAsync(LoadClient client, List<PaymentFlow> flows, ConcurrentQueue<string> broken)
    {
        var found = 0;
        foreach (var flow in flows)
        {
            foreach (var r in flow.Requests.Where(r => r.FinalStatus is not null && !r.Acknowledged))
            {
                broken.Enqueue($"final answer {r.FinalStatus} to a valid request: {r} → {r.FinalBody}");
            }
            var authorize = flow.Requests[0];
            if (!authorize.Acknowledged)
            {
                continue;
            }
            if (TrxIdOf(authorize) is not { } trxId)
            {
                broken.Enqueue($"acknowledged with {authorize.FinalStatus} but no transaction in the body: {authorize} → '{authorize.FinalBody}'");
                continue;
            }
            var (status, body) = await client.GetAsync($"/v1/transactions/{trxId}");
            if (status != 200)
            {
                broken.Enqueue($"acknowledged {trxId} reads {status}: {body}");
                continue;
            }
            var t = JsonDocument.Parse(body).RootElement;
            long Sum(string kind) => flow.Requests.Where(r => r.Kind == kind && r.Acknowledged).Sum(r => r.Amount);
            var order = t.GetProperty("order_amount").GetInt64();
            var captured = t.GetProperty("captured_amount").GetInt64();
            var voided = t.GetProperty("voided_amount").GetInt64();
            var refunded = t.TryGetProperty("refunded_amount", out var rf) ? rf.GetInt64() : 0;
            var problems = new List<string>();
            if (order != flow.Amount)
            {
                problems.Add($"order_amount {order} ≠ acknowledged {flow.Amount}");
            }
            if (captured != Sum("capture"))
            {
                problems.Add($"captured_amount {captured} ≠ acknowledged captures {Sum("capture")}");
            }
            if (voided != Sum("void"))
            {
                problems.Add($"voided_amount {voided} ≠ acknowledged voids {Sum("void")}");
            }
            if (refunded != Sum("refund"))
            {
                problems.Add($"refunded_amount {refunded} ≠ acknowledged refunds {Sum("refund")}");
            }
            if (captured + voided > order || refunded > captured || captured < 0 || voided < 0)
            {
                problems.Add($"money invariant broken: order {order}, captured {captured}, voided {voided}, refunded {refunded}");
            }
            if (t.TryGetProperty("history", out var history) && history.ValueKind == JsonValueKind.Array)
            {
                var ops = history.EnumerateArray().GroupBy(h => h.GetProperty("operation").GetString()).ToDictionary(g => g.Key!, g => g.Count());
                foreach (var (kind, name) in new[] { ("capture", "CAPTURE"), ("void", "VOID"), ("refund", "REFUND") })
                {
                    var expected = flow.Requests.Count(r => r.Kind == kind && r.Acknowledged);
                    if (ops.GetValueOrDefault(name) != expected && (name != "REFUND" || ops.ContainsKey("REFUND")))
                    {
                        problems.Add($"history has {ops.GetValueOrDefault(name)} {name} for {expected} acknowledged");
                    }
                }
                if (ops.GetValueOrDefault("AUTHORIZE") != 1)
                {
                    problems.Add($"history has {ops.GetValueOrDefault("AUTHORIZE")} AUTHORIZE");
                }
            }
            if (problems.Count > 0)
            {
                broken.Enqueue($"{trxId} ({flow.OrderId}): {string.Join("; ", problems)}");
            }
            else
            {
                found += flow.Requests.Count(r => r.Acknowledged);
            }
        }

        // Exactly once: one PAYMENT per acknowledged authorization, none for the others, across all pages.
        var payments = await ListAsync(client, "PAYMENT");
        foreach (var flow in flows)
        {
            var rows = payments.Where(p => p.GetProperty("order_id").GetString() == flow.OrderId).ToList();
            var expected = flow.Requests[0].Acknowledged ? 1 : 0;
            if (rows.Count != expected)
            {
                broken.Enqueue($"{flow.OrderId}: {rows.Count} payments in the database for {expected} acknowledged authorization");
            }
            else if (expected == 1 && rows[0].GetProperty("trx_id").GetString() != TrxIdOf(flow.Requests[0]))
            {
                broken.Enqueue($"{flow.OrderId}: the payment in the database is not the acknowledged one");
            }
        }
        if (flows.Any(f => f.Requests.Any(r => r.Kind == "refund")))
        {
            var refunds = await ListAsync(client, "REFUND");
            foreach (var flow in flows.Where(f => f.TrxId is not null))
            {
                var rows = refunds.Count(r => r.TryGetProperty("parent_trx_id", out var pt) && pt.GetString() == flow.TrxId);
                var expected = flow.Requests.Count(r => r.Kind == "refund" && r.Acknowledged);
                if (rows != expected)
                {
                    broken.Enqueue($"{flow.TrxId}: {rows} refunds in the database for {expected} acknowledged");
                }
            }
        }
        return found;
    }

    private static string? TrxIdOf(LedgerRequest r) =>
        r.FinalBody is { Length: > 0 } b && b.TrimStart().StartsWith('{') && r.FinalJson.TryGetProperty("trx_id", out var id) ? id.GetString() : null;

    private static async Task<List<JsonElement>> ListAsync(LoadClient client, string type)
    {
        var rows = new List<JsonElement>();
        var from = DateTime.UtcNow.AddDays(-1).ToString("dd/MM/yyyy", System.Globalization.CultureInfo.InvariantCulture);
        var to = DateTime.UtcNow.AddDays(2).ToString("dd/MM/yyyy", System.Globalization.CultureInfo.InvariantCulture);
        string? asOf = null;
        for (var offset = 0; ; offset += 100)
        {
            var (status, body) = await client.GetAsync(
                $"/v1/transactions?start_date={from}&end_date={to}&type={type}&sort_by=created_at&limit=100&offset={offset}" +
                (asOf is null ? "" : "&as_of=" + Uri.EscapeDataString(asOf)));
            if (status != 200)
            {
                throw new InvalidOperationException($"GET /v1/transactions answered {status}: {body}");
            }
            var page = JsonDocument.Parse(body).RootElement;
            asOf ??= page.TryGetProperty("as_of", out var a) ? a.GetString() : null;
            rows.AddRange(page.GetProperty("data").EnumerateArray().Select(e => e.Clone()));
            if (!page.GetProperty("has_more").GetBoolean())
            {
                return rows;
            }
        }
    }

    /// <summary>Every final answer that is kept (all but 400, 401, 409 in progress, 429, 5xx) replays as it was, from either Host.</summary>
    private static async Task ReplayAsync(LoadClient client, List<LedgerRequest> all, ConcurrentQueue<string> broken)
    {
        foreach (var r in all.Where(r => r.FinalStatus is { } s && s is not (400 or 401 or 429) && s < 500))
        {
            var host = Random.Shared.Next(client.HostCount);
            var (attempt, _, body, _, headers) = await client.SendOnceAsync(r, host);
            if (attempt.Status != r.FinalStatus || body != r.FinalBody)
            {
                broken.Enqueue($"the same key answered {attempt.Status} {body} instead of the original {r.FinalStatus} {r.FinalBody}: {r}");
            }
            else if (headers is null || !headers.TryGetValues("Idempotent-Replayed", out var v) || !v.Contains("true"))
            {
                broken.Enqueue($"a replay without Idempotent-Replayed: true: {r}");
            }
        }
    }

    /// <summary>
    /// Refunds in flight (docs/adr/0082): once every refund has its final answer none is left reserved, and no payment
    /// has more refunded and reserved than captured, or a reserved amount its pending reservations do not account for.
    /// </summary>
    private static async Task CheckRefundReservationsAsync(GatewayProcesses p, ConcurrentQueue<string> broken)
    {
        await using var conn = new Npgsql.NpgsqlConnection(p.HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("""
            SELECT t.trx_id, t.captured_amount, t.refunded_amount, t.refund_reserved_amount, coalesce(r.held, 0)
              FROM transactions.transactions t
              LEFT JOIN (SELECT payment_trx_id, sum(amount) AS held FROM transactions.refund_reservations
                          WHERE state = 'pending' GROUP BY 1) r ON r.payment_trx_id = t.trx_id
             WHERE t.refund_reserved_amount <> 0 OR r.held IS NOT NULL
                OR t.refunded_amount + t.refund_reserved_amount > t.captured_amount
             LIMIT 20
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            broken.Enqueue($"{reader.GetString(0)}: captured {reader.GetInt64(1)}, refunded {reader.GetInt64(2)}, reserved " +
                           $"{reader.GetInt64(3)}, pending reservations {reader.GetInt64(4)} after every refund was answered");
        }
    }

    private static async Task ScanForCardDataAsync(GatewayProcesses p, ConcurrentQueue<string> broken)
    {
        var scanner = new CardDataScanner([FaultGateway.ApprovedPan, FaultGateway.OtherPan, FaultGateway.DeclinedPan], [FaultGateway.Cvc]);
        foreach (var file in Directory.EnumerateFiles(p.WorkDirectory, "*.log"))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var n = 0;
            while (await reader.ReadLineAsync() is { } line)
            {
                scanner.ScanText(Path.GetFileName(file), $"line {++n}", line);
            }
        }
        // After a PostgreSQL restart this process's pooled connections are dead: start the scan on fresh ones.
        Npgsql.NpgsqlConnection.ClearAllPools();
        await scanner.ScanDatabaseAsync("host database", p.HostConnectionString);
        await scanner.ScanRedisAsync(p.Redis.Endpoint);
        var vault = new CardDataScanner([FaultGateway.ApprovedPan, FaultGateway.OtherPan, FaultGateway.DeclinedPan], [FaultGateway.Cvc]);
        await vault.ScanDatabaseAsync("vault database", p.VaultConnectionString);
        foreach (var f in scanner.Findings.Concat(vault.Findings))
        {
            broken.Enqueue("card data: " + f);
        }
    }
}
