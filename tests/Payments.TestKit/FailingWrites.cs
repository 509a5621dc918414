using Npgsql;

namespace Payments.TestKit;

/// <summary>Writes that fail on purpose, as a lost database would make them, for tests of what a retry does next.</summary>
public static class FailingWrites
{
    /// <summary>
    /// Until disposed, every insert into <c>transactions.transactions</c> whose row matches <paramref name="condition"/>
    /// (SQL over <c>NEW</c>, e.g. <c>NEW.order_id = 'x'</c>) raises, so the Host's transaction rolls back.
    /// </summary>
    public static async Task<IAsyncDisposable> FailTransactionInsertsAsync(this GatewayFixture gateway, string condition)
    {
        var name = "fail_" + Guid.NewGuid().ToString("N");
        await ExecAsync(gateway, $"""
            CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {condition} THEN RAISE EXCEPTION 'injected failure'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER {name} BEFORE INSERT ON transactions.transactions FOR EACH ROW EXECUTE FUNCTION public.{name}();
            """);
        return new Undo(() => ExecAsync(gateway, $"DROP TRIGGER {name} ON transactions.transactions; DROP FUNCTION public.{name}();"));
    }

    private static async Task ExecAsync(GatewayFixture gateway, string sql)
    {
        await using var conn = new NpgsqlConnection(gateway.HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private sealed class Undo(Func<Task> undo) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await undo();
    }
}
