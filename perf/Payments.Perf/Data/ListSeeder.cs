using System.Diagnostics;
using Npgsql;

namespace Payments.Perf.Data;

/// <summary>
/// Bulk-inserts transactions for one merchant straight into the transactions table, for the list route's figure
/// (a million rows). Each new row copies one of the merchant's API-made rows (one per status, so CHECK constraints
/// hold and status filters select a third), with a fresh id, order_id and created_at spread over the last 35 days.
/// </summary>
internal static class ListSeeder
{
    public static async Task<(long Rows, string Note)> SeedAsync(SuiteContext ctx, string merchantId, long rows)
    {
        var sw = Stopwatch.StartNew();
        var cs = new NpgsqlConnectionStringBuilder(ctx.Gateway.AdminConnectionString) { Database = "payments", CommandTimeout = 0 }.ConnectionString;
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        var schema = await TransactionsSchema.FindAsync(conn);
        var writable = new List<string>();
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT c.column_name FROM information_schema.columns c
            WHERE c.table_schema = 'transactions' AND c.table_name = @t
              AND c.is_generated = 'NEVER' AND c.is_identity = 'NO' AND coalesce(c.column_default, '') NOT LIKE 'nextval%'
            ORDER BY c.ordinal_position
            """, conn))
        {
            cmd.Parameters.AddWithValue("t", schema.TableName);
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                writable.Add(r.GetString(0));
            }
        }
        const string Amount = "(100 + (g * 7919) % 99900)";
        string Expr(string c) => c switch
        {
            _ when c == schema.IdColumn => "'trx_' || lpad(to_hex(g), 26, '0')",
            "order_id" => "'seed-' || g",
            "external_id" => "NULL",
            // g counts from @base (ids stay unique across seeds): the rows span the last 35 days, in the list's range.
            "created_at" or "updated_at" => "now() - (g - @base) * interval '3 seconds'",
            // Amounts spread like real orders (the templates' own would tie every row of a status to one amount);
            // what was captured or voided of the template is all of the new amount, so the constraints still hold.
            "order_amount" => Amount,
            "captured_amount" or "voided_amount" => $"CASE WHEN t.\"{c}\" > 0 THEN {Amount} ELSE 0 END",
            _ => $"t.\"{c}\"",
        };
        var cols = string.Join(", ", writable.Select(c => $"\"{c}\""));
        var exprs = string.Join(", ", writable.Select(Expr));
        const int Batch = 200_000;
        long done = 0;
        // Fresh ids must not collide with earlier seeds of the same run.
        long offset;
        await using (var max = new NpgsqlCommand($"SELECT count(*) FROM {schema.Table}", conn))
        {
            offset = (long)(await max.ExecuteScalarAsync())! + 1_000_000_000L;
        }
        while (done < rows)
        {
            var n = Math.Min(Batch, rows - done);
            var sql = $"""
                WITH t AS (
                  SELECT s.*, row_number() OVER (ORDER BY s.status) - 1 AS k_, count(*) OVER () AS n_
                  FROM (SELECT DISTINCT ON (status) * FROM {schema.Table} WHERE "{schema.MerchantColumn}" = @m ORDER BY status, created_at) s)
                INSERT INTO {schema.Table} ({cols})
                SELECT {exprs} FROM generate_series(@from, @to) g JOIN t ON t.k_ = g % t.n_
                """;
            await using var cmd = new NpgsqlCommand(sql, conn);
            cmd.Parameters.AddWithValue("m", merchantId);
            cmd.Parameters.AddWithValue("from", offset + done);
            cmd.Parameters.AddWithValue("to", offset + done + n - 1);
            cmd.Parameters.AddWithValue("base", offset);
            done += await cmd.ExecuteNonQueryAsync();
            ctx.Log.WriteLine($"  seeded {done:N0}/{rows:N0} rows ({sw.Elapsed.TotalSeconds:0} s)");
        }
        await using (var analyze = new NpgsqlCommand($"ANALYZE {schema.Table}", conn))
        {
            await analyze.ExecuteNonQueryAsync();
        }
        return (done, $"{done:N0} rows bulk-inserted into {schema.Table} in {sw.Elapsed.TotalSeconds:0} s (copies of the merchant's API-made rows, one per status)");
    }
}
