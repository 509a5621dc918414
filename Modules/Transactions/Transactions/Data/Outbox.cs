using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>An event as the outbox stores it.</summary>
internal sealed record OutboxRow(string EventId, string MerchantId, string Type, string Payload, DateTimeOffset At);

/// <summary>Writes events into the outbox inside the caller's transaction.</summary>
internal static class OutboxWriter
{
    public static OutboxRow Row(string type, string merchantId, DateTimeOffset at, TransactionSnapshot state)
    {
        var evt = new TransactionEvent(PrefixedId.New("evt"), type, merchantId, at, state with { History = null });
        return new OutboxRow(evt.EventId, merchantId, type, JsonSerializer.Serialize(evt, PaymentsJson.Options), at);
    }

    public static NpgsqlBatchCommand Command(string type, string merchantId, DateTimeOffset at, TransactionSnapshot state) =>
        Command(Row(type, merchantId, at, state));

    public static NpgsqlBatchCommand Command(OutboxRow row)
    {
        var cmd = new NpgsqlBatchCommand(
            "INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)");
        cmd.Parameters.Add(new() { Value = row.EventId });
        cmd.Parameters.Add(new() { Value = row.MerchantId });
        cmd.Parameters.Add(new() { Value = row.Type });
        cmd.Parameters.Add(new() { Value = row.Payload, NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = row.At });
        return cmd;
    }

    /// <summary>
    /// Many events in one statement, in the order given: the identity that orders a merchant's events is taken in
    /// that order.
    /// </summary>
    public static NpgsqlBatchCommand SetCommand(IReadOnlyList<OutboxRow> rows)
    {
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at)
            SELECT e.event_id, e.merchant_id, e.type, e.payload::jsonb, e.created_at
              FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
                   WITH ORDINALITY AS e(event_id, merchant_id, type, payload, created_at, n)
             ORDER BY e.n
            """);
        cmd.Parameters.Add(new() { Value = rows.Select(r => r.EventId).ToArray() });
        cmd.Parameters.Add(new() { Value = rows.Select(r => r.MerchantId).ToArray() });
        cmd.Parameters.Add(new() { Value = rows.Select(r => r.Type).ToArray() });
        cmd.Parameters.Add(new() { Value = rows.Select(r => r.Payload).ToArray() });
        cmd.Parameters.Add(new() { Value = rows.Select(r => r.At).ToArray() });
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
