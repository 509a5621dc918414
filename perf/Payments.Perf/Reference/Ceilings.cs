using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using Payments.Perf.Api;
using Payments.Perf.Measure;

namespace Payments.Perf.Reference;

/// <summary>The machine's ceilings measured in the same run: the hot path's SQL under pgbench, and bare Kestrel.</summary>
internal sealed record Ceilings(double PgbenchAuthorizeTps, double PgbenchPairTps, double PlaintextRps, int PgbenchClients, string PgbenchNote);

internal static partial class CeilingRuns
{
    /// <summary>
    /// The reference tables: copies of the real ones (<c>LIKE … INCLUDING ALL</c>: columns, generated status, CHECK
    /// constraints, every index) made in a schema of their own in the Host's database after its migrations ran.
    /// </summary>
    private const string Schema = """
        DROP SCHEMA IF EXISTS perf_ref CASCADE;
        CREATE SCHEMA perf_ref;
        CREATE TABLE perf_ref.transactions (LIKE transactions.transactions INCLUDING ALL);
        CREATE TABLE perf_ref.history (LIKE transactions.history INCLUDING ALL);
        """;

    private const string Authorize = """
        \set amt random(1000, 100000)
        INSERT INTO perf_ref.transactions (trx_id, merchant_id, type, order_amount, currency, order_id, card_token, card_brand, card_last4,
                                           authorization_code, authorization_expires_at, created_at, updated_at)
        VALUES ('trx_' || md5(random()::text), 'mer_perf' || :client_id, 'PAYMENT', :amt, 'USD', 'order-' || :client_id, 'tok_perf', 'visa', '4242',
                '123456', now() + interval '7 days', now(), now())
        RETURNING trx_id \gset
        """;

    // The issue's pair: the authorize INSERT, then one conditional UPDATE plus one history INSERT in a transaction.
    private const string Pair = Authorize + """

        BEGIN;
        UPDATE perf_ref.transactions SET captured_amount = captured_amount + :amt, version = version + 1, updated_at = now()
          WHERE trx_id = :trx_id AND order_amount - captured_amount - voided_amount >= :amt;
        INSERT INTO perf_ref.history (trx_id, seq, operation, amount, status, at, prev_hash, hash)
          VALUES (:trx_id, 2, 'CAPTURE', :amt, 'CAPTURED', now(), encode(sha256(:trx_id::bytea), 'hex'), encode(sha256(('CAPTURE' || :trx_id)::bytea), 'hex'));
        END;
        """;

    public static async Task<(double Tps, string Output)> PgbenchAsync(string adminConnectionString, string script, int clients, TimeSpan duration, string work)
    {
        var b = new NpgsqlConnectionStringBuilder(adminConnectionString);
        var file = Path.Combine(work, $"pgbench-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(file, script);
        var psi = new ProcessStartInfo("pgbench")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     "-h", "127.0.0.1", "-p", b.Port.ToString(CultureInfo.InvariantCulture), "-U", b.Username!, "-n", "-M", "prepared",
                     "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", Math.Min(clients, Environment.ProcessorCount).ToString(CultureInfo.InvariantCulture),
                     "-T", Math.Max(1, (int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-f", file, "payments",
                 })
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("pgbench did not start (install postgresql-contrib).");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        var output = await stdout + await stderr;
        var m = TpsLine().Match(output);
        if (p.ExitCode != 0 || !m.Success)
        {
            throw new InvalidOperationException($"pgbench failed ({p.ExitCode}): {output}");
        }
        return (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), output);
    }

    public static async Task<(double Authorize, double Pair)> PgbenchCeilingsAsync(string adminConnectionString, int clients, TimeSpan duration, string work, TextWriter log)
    {
        var b = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = "payments" };
        await using (var conn = new NpgsqlConnection(b.ConnectionString))
        {
            await conn.OpenAsync();
            await using var schema = new NpgsqlCommand(Schema, conn);
            await schema.ExecuteNonQueryAsync();
        }
        var (auth, _) = await PgbenchAsync(adminConnectionString, Authorize, clients, duration, work);
        log.WriteLine($"  pgbench authorize INSERT: {auth:0} tps");
        var (pair, _) = await PgbenchAsync(adminConnectionString, Pair, clients, duration, work);
        log.WriteLine($"  pgbench pair (INSERT; UPDATE + history INSERT): {pair:0} pairs/s");
        await using (var conn = new NpgsqlConnection(b.ConnectionString))
        {
            await conn.OpenAsync();
            await using var drop = new NpgsqlCommand("DROP SCHEMA perf_ref CASCADE", conn);
            await drop.ExecuteNonQueryAsync();
        }
        return (auth, pair);
    }

    /// <summary>Kestrel's ceiling on this machine: a built-in plaintext endpoint, driven by the same client as the gateway.</summary>
    public static async Task<PhaseStats> PlaintextAsync(int clients, TimeSpan duration)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.MapGet("/plaintext", () => Results.Text("Hello, World!"));
        await app.StartAsync();
        var url = new Uri(app.Urls.First() + "/");
        using var api = new GatewayApi(url, url);
        using var http = api.Client(null);
        var scenario = new PlaintextScenario(api, http);
        return await LoadModels.ClosedAsync(scenario, clients, duration);
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();

    private sealed class PlaintextScenario(GatewayApi api, HttpClient http) : IScenario
    {
        public string Name => "kestrel-plaintext";

        public string IterationStep => "plaintext";

        public string? Unavailable => null;

        public Task PrepareAsync(SuiteContext context) => Task.CompletedTask;

        public async Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks) =>
            await api.SendAsync(http, HttpMethod.Get, "plaintext", null);
    }
}
