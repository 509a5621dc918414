using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Idempotency;
using Payments.Perf.Api;
using Payments.Transactions;
using Payments.Perf.Measure;

namespace Payments.Perf.Reference;

/// <summary>The machine's ceilings measured in the same run: the hot path's SQL under pgbench, and bare Kestrel.</summary>
internal sealed record Ceilings(double PgbenchAuthorizeTps, double PgbenchPairTps, double PlaintextRps, int PgbenchClients, string PgbenchNote)
{
    /// <summary>The Host's own pair SQL under pgbench (the floor of issue 17): what no .NET code above it can beat.</summary>
    public double PgbenchGatewaySqlTps { get; init; }
}

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

    /// <summary>
    /// The floor (issue 17, step 1): the SQL the Host issues for one pair, statement for statement and round trip for
    /// round trip (a pipeline is one Npgsql batch, the commit riding in the last one), on a database of its own migrated
    /// with the real Transactions and idempotency migrations (triggers, constraints, every index). Per request: the
    /// idempotency claim (its own commit, asynchronous), then the change with its history, outbox event and stored
    /// answer (<c>idempotency.complete</c>) in one transaction; the capture reads the history its entry chains to.
    /// Keep it in step with <c>PaymentStatements.One</c>, <c>CaptureVoidData</c> and <c>IdempotencyClaim</c>: each change
    /// written alone (<c>perf/experiments/group-commit.sh</c> measures the groups of ADR 36). Not in it: the Vault's card
    /// use, the relay and the handlers, so a gateway pair can only be slower. Four merchants, as in the pair scenario (the
    /// list counters are per merchant).
    /// </summary>
    private const string GatewayPair = """
        \set amt random(1000, 100000)
        \set mer random(1, 4)
        \set r random(1, 9000000000000000000)
        WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
        INSERT INTO idempotency.requests AS r (merchant_id, idem_key, fingerprint, state, lease_token, lease_until, created_at, expires_at)
        SELECT 'mer_floor' || :mer, 'a' || :r, sha256('a'::bytea), 'in_progress', '00000000-0000-0000-0000-000000000001', now() + interval '1 minute', now(), now() + interval '8 days'
          FROM async_commit
        ON CONFLICT (merchant_id, idem_key) DO UPDATE SET state = 'in_progress' WHERE r.expires_at <= excluded.created_at
        RETURNING 1;
        \startpipeline
        BEGIN;
        INSERT INTO transactions.transactions (trx_id, merchant_id, type, order_amount, currency, captured_amount, order_id, external_id, payment_intent_id,
                                               card_token, card_brand, card_last4, authorization_code, decline_code, authorization_expires_at, created_at, updated_at)
        VALUES ('trx_' || :r, 'mer_floor' || :mer, 'PAYMENT', :amt, 'USD', 0, 'order-' || :client_id, NULL, NULL,
                'tok_floor', 'visa', '4242', '123456', NULL, now() + interval '7 days', now(), now());
        INSERT INTO transactions.history (trx_id, seq, operation, amount, status, at, prev_hash, hash)
        VALUES ('trx_' || :r, 1, 'AUTHORIZE', :amt, 'AUTHORIZED', now(), repeat('0', 64), encode(sha256(('trx_' || :r)::bytea), 'hex'));
        INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at)
        VALUES ('evt_a' || :r, 'mer_floor' || :mer, 'transaction.authorized', jsonb_build_object('state', repeat('x', 600)), now());
        SELECT idempotency.complete('mer_floor' || :mer, 'a' || :r, '00000000-0000-0000-0000-000000000001', 201, '{"ETag":"\"1\""}', convert_to(repeat('x', 700), 'UTF8'), now());
        END;
        \endpipeline
        WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
        INSERT INTO idempotency.requests AS r (merchant_id, idem_key, fingerprint, state, lease_token, lease_until, created_at, expires_at)
        SELECT 'mer_floor' || :mer, 'c' || :r, sha256('c'::bytea), 'in_progress', '00000000-0000-0000-0000-000000000002', now() + interval '1 minute', now(), now() + interval '8 days'
          FROM async_commit
        ON CONFLICT (merchant_id, idem_key) DO UPDATE SET state = 'in_progress' WHERE r.expires_at <= excluded.created_at
        RETURNING 1;
        \startpipeline
        BEGIN;
        WITH cur AS (
            SELECT trx_id, order_amount - captured_amount - voided_amount AS remaining
              FROM transactions.transactions WHERE trx_id = 'trx_' || :r AND merchant_id = 'mer_floor' || :mer FOR UPDATE)
        UPDATE transactions.transactions t
           SET captured_amount = t.captured_amount + cur.remaining, version = t.version + 1, updated_at = now()
          FROM cur
         WHERE t.trx_id = 'trx_' || :r AND t.trx_id = cur.trx_id AND t.type = 'PAYMENT' AND t.status = ANY('{AUTHORIZED,PARTIAL_CAPTURED,PARTIAL_SETTLED}')
        RETURNING t.version;
        SELECT seq, operation, amount, status, at, prev_hash, hash FROM transactions.history WHERE trx_id = 'trx_' || :r ORDER BY seq;
        \endpipeline
        \startpipeline
        INSERT INTO transactions.history (trx_id, seq, operation, amount, status, at, prev_hash, hash)
        VALUES ('trx_' || :r, 2, 'CAPTURE', :amt, 'CAPTURED', now(), encode(sha256(('trx_' || :r)::bytea), 'hex'), encode(sha256(('CAPTURE' || :r)::bytea), 'hex'));
        INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at)
        VALUES ('evt_c' || :r, 'mer_floor' || :mer, 'transaction.captured', jsonb_build_object('state', repeat('x', 600)), now());
        SELECT idempotency.complete('mer_floor' || :mer, 'c' || :r, '00000000-0000-0000-0000-000000000002', 200, '{"ETag":"\"2\""}', convert_to(repeat('x', 900), 'UTF8'), now());
        END;
        \endpipeline
        """;

    public static async Task<(double Tps, string Output)> PgbenchAsync(string adminConnectionString, string script, int clients, TimeSpan duration, string work,
        string database = "payments")
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
                     "-T", Math.Max(1, (int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-f", file, database,
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

    /// <summary>The floor: <see cref="GatewayPair"/> on a database of its own (<c>perf_floor</c>, dropped after).</summary>
    public static async Task<double> PgbenchGatewaySqlAsync(string adminConnectionString, int clients, TimeSpan duration, string work, TextWriter log)
    {
        const string Database = "perf_floor";
        await ExecuteAsync(adminConnectionString, $"DROP DATABASE IF EXISTS {Database}");
        await ExecuteAsync(adminConnectionString, $"CREATE DATABASE {Database}");
        var floor = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = Database, Pooling = false }.ConnectionString;
        await using (var db = NpgsqlDataSource.Create(floor))
        {
            await SqlMigrationRunner.ApplyAsync(db, [IdempotencyServices.Migrations, TransactionsModule.Definition.Migrations],
                Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        }
        var (tps, _) = await PgbenchAsync(adminConnectionString, GatewayPair, clients, duration, work, Database);
        log.WriteLine($"  pgbench the Host's own pair SQL (claims, change, history, outbox, answers; real tables and triggers): {tps:0} pairs/s");
        await ExecuteAsync(adminConnectionString, $"DROP DATABASE {Database} WITH (FORCE)");
        return tps;
    }

    public static async Task<(double Authorize, double Pair)> PgbenchCeilingsAsync(string adminConnectionString, int clients, TimeSpan duration, string work, TextWriter log)
    {
        var payments = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = "payments" }.ConnectionString;
        await ExecuteAsync(payments, Schema);
        var (auth, _) = await PgbenchAsync(adminConnectionString, Authorize, clients, duration, work);
        log.WriteLine($"  pgbench authorize INSERT: {auth:0} tps");
        var (pair, _) = await PgbenchAsync(adminConnectionString, Pair, clients, duration, work);
        log.WriteLine($"  pgbench pair (INSERT; UPDATE + history INSERT): {pair:0} pairs/s");
        await ExecuteAsync(payments, "DROP SCHEMA perf_ref CASCADE");
        return (auth, pair);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
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
        // Warm-up, unrecorded: JIT and connections.
        await LoadModels.ClosedAsync(scenario, clients, TimeSpan.FromSeconds(Math.Min(3, duration.TotalSeconds)), clients * 50L);
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
