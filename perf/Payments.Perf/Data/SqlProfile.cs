using Npgsql;

namespace Payments.Perf.Data;

/// <summary>One statement's share of PostgreSQL's time during the measured phases.</summary>
internal sealed record SqlStatement(string Database, long Calls, double TotalMs, double MeanMs, long Rows, string Query);

/// <summary>
/// Where PostgreSQL's time goes: <c>pg_stat_statements</c> (loaded by the suite's own cluster) reset once the data is
/// prepared, read after the load. Statement counts per iteration show round trips that cost more than their SQL.
/// </summary>
internal static class SqlProfile
{
    public const string ServerOptions = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all";

    public static async Task ResetAsync(string adminConnectionString)
    {
        await using var conn = new NpgsqlConnection(adminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();", conn);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Every statement of the Host's and the Vault's databases since the reset, most time first.</summary>
    public static async Task<IReadOnlyList<SqlStatement>> ReadAsync(string adminConnectionString)
    {
        await using var conn = new NpgsqlConnection(adminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT d.datname, s.calls, s.total_exec_time, s.mean_exec_time, s.rows, regexp_replace(s.query, '\s+', ' ', 'g')
              FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
             WHERE d.datname IN ('payments', 'vault')
             ORDER BY s.total_exec_time DESC
            """, conn);
        var list = new List<SqlStatement>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            list.Add(new SqlStatement(r.GetString(0), r.GetInt64(1), r.GetDouble(2), r.GetDouble(3), r.GetInt64(4), r.GetString(5)));
        }
        return list;
    }
}
