using Npgsql;
using Xunit;

namespace Payments.TestKit;

/// <summary>For tests that hold a table lock so a request stops inside the gateway, at a known point.</summary>
public static class LockWaits
{
    /// <summary>
    /// Waits until a session of <paramref name="db"/>'s own database waits on a lock in a statement containing
    /// <paramref name="statement"/> (the request's own: a background loop of the same gateway may wait on the lock too),
    /// or fails naming <paramref name="what"/> after 20 s.
    /// </summary>
    public static async Task UntilWaitingAsync(NpgsqlDataSource db, string statement, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            await using (var count = db.CreateCommand("""
                SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock' AND strpos(query, $1) > 0
                """))
            {
                count.Parameters.Add(new() { Value = statement });
                if ((long)(await count.ExecuteScalarAsync())! > 0)
                {
                    return;
                }
            }
            Assert.True(DateTime.UtcNow < deadline, $"{what} never reached the locked table");
            await Task.Delay(20);
        }
    }
}
