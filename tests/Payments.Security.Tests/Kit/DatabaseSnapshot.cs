using System.Text;
using Npgsql;

namespace Payments.Security.Tests.Kit;

/// <summary>
/// Row count and checksum of every table in every non-system schema of one database: two equal snapshots mean
/// nothing was inserted, changed or deleted in between. The list counters are compared by what they count: a Host folds
/// their deltas into their totals in the background (Transactions migration 0006), which moves rows between the two
/// tables without changing any count.
/// </summary>
internal sealed record DatabaseSnapshot(IReadOnlyDictionary<string, (long Rows, string Md5)> Tables)
{
    private const string Totals = "transactions.list_counts";
    private const string Deltas = "transactions.list_count_deltas";

    /// <summary>Every counter's net value (totals plus pending deltas), one row per bucket, as one logical table.</summary>
    private const string Counters = $"""
        SELECT 'transactions list counters (totals and deltas)', count(*), md5(coalesce(string_agg(x::text, E'\n' ORDER BY x::text), ''))
          FROM (SELECT merchant_id, span, bucket, type, status, sum(n) AS n
                  FROM (SELECT merchant_id, span, bucket, type, status, n FROM {Totals}
                        UNION ALL SELECT merchant_id, span, bucket, type, status, n FROM {Deltas}) u
                 GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0) x
        """;

    public static async Task<IReadOnlyList<string>> TablesAsync(NpgsqlConnection conn)
    {
        const string sql = """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
            ORDER BY 1
            """;
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var tables = new List<string>();
        while (await reader.ReadAsync())
        {
            tables.Add(reader.GetString(0));
        }
        return tables;
    }

    public static async Task<DatabaseSnapshot> TakeAsync(string connectionString)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        var tables = await TablesAsync(conn);
        var result = new Dictionary<string, (long, string)>();
        if (tables.Count == 0)
        {
            return new DatabaseSnapshot(result);
        }
        // One round trip for the whole database: this runs before and after every hostile request.
        var counted = tables.Contains(Totals) && tables.Contains(Deltas);
        var sql = string.Join("\nUNION ALL\n", tables.Where(t => !counted || t is not (Totals or Deltas)).Select(t =>
            $"SELECT '{t.Replace("'", "''", StringComparison.Ordinal)}', count(*), md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM {t} x")
            .Concat(counted ? [Counters] : []));
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result[reader.GetString(0)] = (reader.GetInt64(1), reader.GetString(2));
        }
        return new DatabaseSnapshot(result);
    }

    /// <summary>The tables that differ, with their row counts before and after; empty when nothing changed.</summary>
    public IReadOnlyList<string> Diff(DatabaseSnapshot after)
    {
        var changed = new List<string>();
        foreach (var name in Tables.Keys.Union(after.Tables.Keys).Order(StringComparer.Ordinal))
        {
            var had = Tables.TryGetValue(name, out var b);
            var has = after.Tables.TryGetValue(name, out var a);
            if (had != has || b != a)
            {
                changed.Add($"{name}: {(had ? b.Rows : 0)} rows -> {(has ? a.Rows : 0)} rows{(had && has && b.Rows == a.Rows ? " (contents changed)" : "")}");
            }
        }
        return changed;
    }

    /// <summary>Every row of every table as PostgreSQL's text form of the row, for the leak scan.</summary>
    public static async IAsyncEnumerable<(string Table, string Row)> RowsAsync(string connectionString)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        foreach (var table in await TablesAsync(conn))
        {
            await using var cmd = new NpgsqlCommand($"SELECT x::text FROM {table} x", conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                yield return (table, reader.IsDBNull(0) ? "" : reader.GetString(0));
            }
        }
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var (name, (rows, _)) in Tables)
        {
            sb.Append(name).Append('=').Append(rows).Append(' ');
        }
        return sb.ToString();
    }
}
