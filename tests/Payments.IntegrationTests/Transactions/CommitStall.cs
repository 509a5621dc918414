using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>A gateway whose group-commit writers keep one commit in flight: a stalled one holds the next group back.</summary>
public sealed class GroupCommitFixture : TransactionsFixture
{
    protected override void ConfigureHost(Dictionary<string, string?> settings)
    {
        base.ConfigureHost(settings);
        settings["Transactions:GroupCommitsInFlight"] = "1";
    }
}

/// <summary>
/// A trigger that makes the first <c>INSERT</c> or <c>UPDATE</c> of a row (of a transaction, or of another table) matching a condition wait on an
/// advisory lock the stall holds: a writer's commit stalls there, and what comes after it queues, to form one group the
/// moment it is released. The grouping is made, not hoped for. Disposing releases the lock and drops the trigger.
/// </summary>
public sealed class CommitStall : IAsyncDisposable
{
    private readonly GatewayFixture gateway;
    private readonly string name;
    private readonly long gate;
    private readonly NpgsqlConnection holder;
    private readonly string table;

    private CommitStall(GatewayFixture gateway, string name, long gate, NpgsqlConnection holder, string table) =>
        (this.gateway, this.name, this.gate, this.holder, this.table) = (gateway, name, gate, holder, table);

    public long Gate => gate;

    public static async Task<CommitStall> StartAsync(GatewayFixture gateway, string name, string operation, string condition,
        string table = "transactions.transactions")
    {
        var gate = Random.Shared.NextInt64(1, long.MaxValue);
        await ExecAsync(gateway, $"""
            CREATE SEQUENCE public.{name}_seq;
            CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF {condition} AND nextval('public.{name}_seq') = 1 THEN PERFORM pg_advisory_xact_lock({gate}); END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER {name} BEFORE {operation} ON transactions.transactions FOR EACH ROW EXECUTE FUNCTION public.{name}();
            """.Replace("ON transactions.transactions", "ON " + table, StringComparison.Ordinal));
        var holder = new NpgsqlConnection(gateway.HostConnectionString);
        await holder.OpenAsync();
        await using var hold = new NpgsqlCommand($"SELECT pg_advisory_lock({gate})", holder);
        await hold.ExecuteScalarAsync();
        return new CommitStall(gateway, name, gate, holder, table);
    }

    /// <summary>Waits until the first matching write reached the trigger.</summary>
    public async Task WaitAsync() =>
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, $"SELECT is_called::int FROM public.{name}_seq") == 1),
            "the first write never reached the stall");

    public async Task ReleaseAsync()
    {
        await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({gate})", holder);
        await release.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await holder.DisposeAsync();
        await ExecAsync(gateway, $"DROP TRIGGER {name} ON {table}; DROP FUNCTION public.{name}(); DROP SEQUENCE public.{name}_seq;");
    }

    public static async Task WaitForQueuedAsync<TItem, TResult>(GroupCommitWriter<TItem, TResult> writer, int count)
        where TResult : class =>
        Assert.True(await EventuallyAsync(() => Task.FromResult(writer.Queued == count), TimeSpan.FromSeconds(30)),
            $"{writer.Queued} changes queued, not {count}");
}
