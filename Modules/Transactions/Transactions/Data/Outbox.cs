using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Hosting;
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
    private readonly WakeSignal wake = new();

    public void Kick() => wake.Kick();

    /// <inheritdoc cref="WakeSignal.WaitAsync"/>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => wake.WaitAsync(timeout, ct);

    public void Dispose() => wake.Dispose();
}
