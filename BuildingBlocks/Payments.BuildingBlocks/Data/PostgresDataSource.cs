using Npgsql;

namespace Payments.BuildingBlocks.Data;

/// <summary>How the Host and the Vault open PostgreSQL.</summary>
public static class PostgresDataSource
{
    /// <summary>
    /// A data source tuned for the hot path (perf/RESULTS.md has the before and after):
    /// <list type="bullet">
    /// <item>automatic preparation, unless the connection string sets it: the same few statements run thousands of
    /// times a second, and parsing and planning each anew was a large share of PostgreSQL's CPU;</item>
    /// <item>no session reset when a connection goes back to the pool: with prepared statements Npgsql resets with
    /// seven statements, a third of all statements under load. Nothing here changes session state: no <c>SET</c>,
    /// no temporary tables, advisory locks are transaction-scoped or released explicitly.</item>
    /// </list>
    /// </summary>
    public static NpgsqlDataSource Create(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        var cs = builder.ConnectionStringBuilder;
        if (cs.MaxAutoPrepare == 0)
        {
            cs.MaxAutoPrepare = 64;
            cs.AutoPrepareMinUsages = 2;
        }
        cs.NoResetOnClose = true;
        return builder.Build();
    }

    /// <summary>
    /// PostgreSQL could not be reached or the connection broke (not a statement it refused): transient by Npgsql's own
    /// account. The Host and the Vault answer it 503 with Retry-After, over once the database is back.
    /// </summary>
    public static bool IsUnreachable(NpgsqlException e) =>
        e.IsTransient || e.InnerException is System.Net.Sockets.SocketException or TimeoutException;
}
