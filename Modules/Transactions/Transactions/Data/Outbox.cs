using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>Writes events into the outbox inside the caller's transaction.</summary>
internal static class OutboxWriter
{
    public static NpgsqlBatchCommand Command(string type, string merchantId, DateTimeOffset at, TransactionSnapshot state)
    {
        var evt = new TransactionEvent(PrefixedId.New("evt"), type, merchantId, at, state with { History = null });
        var cmd = new NpgsqlBatchCommand(
            "INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)");
        cmd.Parameters.Add(new() { Value = evt.EventId });
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = type });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(evt, PaymentsJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = at });
        return cmd;
    }
}

/// <summary>Wakes the relay right after a commit, so readers see the effect within milliseconds, not a poll later.</summary>
internal sealed class OutboxSignal : IDisposable
{
    private readonly SemaphoreSlim signal = new(0, 1);

    /// <summary>1 while a wake-up is pending: only the kick that sets it releases, so the semaphore is never over-released.</summary>
    private int kicked;

    public void Kick()
    {
        // Already kicked: one wake-up drains everything. Checking the semaphore's count instead left a race that
        // threw SemaphoreFullException about once per 8,000 pairs under load.
        if (Interlocked.Exchange(ref kicked, 1) == 0)
        {
            signal.Release();
        }
    }

    /// <summary>True when kicked, false when the timeout passed. A kick after this returns wakes the next wait.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        var woken = await signal.WaitAsync(timeout, ct);
        if (woken)
        {
            // Before the caller drains: a commit that kicks from here on wakes the next wait, and one that kicked
            // earlier is seen by this drain.
            Volatile.Write(ref kicked, 0);
        }
        return woken;
    }

    public void Dispose() => signal.Dispose();
}
