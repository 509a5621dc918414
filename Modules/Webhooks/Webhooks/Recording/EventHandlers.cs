using System.Text.Json;
using Npgsql;
using Payments.BuildingBlocks;
using Payments.Transactions.Contracts;
using Payments.Webhooks.Contracts;

namespace Payments.Webhooks.Recording;

/// <summary>
/// Transactions' outbox events become merchant events. Public for Wolverine's discovery, sealed (not static) to name
/// this module's batches; idempotent by event id (the relay delivers at least once).
/// </summary>
public sealed class TransactionEventHandler
{
    /// <summary>This module's relay batch (ADR 35), recorded in one transaction.</summary>
    public static Task HandleAsync(TransactionEventBatch<TransactionEventHandler> batch, NpgsqlDataSource db, CancellationToken cancellation) =>
        EventRecorder.RecordManyAsync(db, batch.Events.Select(Incoming).ToList(), cancellation);

    private static IncomingEvent Incoming(TransactionEvent message) =>
        new(message.EventId, message.Type, message.MerchantId, message.OccurredAt,
            JsonSerializer.Serialize(message.Transaction with { History = null }, PaymentsJson.Options));
}

/// <summary>Events other modules publish for merchants (<see cref="MerchantEvent"/>). Public for Wolverine; idempotent.</summary>
public static class MerchantEventHandler
{
    public static Task HandleAsync(MerchantEvent message, NpgsqlDataSource db, CancellationToken cancellation)
    {
        using (var data = JsonDocument.Parse(message.DataJson))
        {
            if (data.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException("A merchant event's data must be a JSON object.", nameof(message));
            }
        }
        return EventRecorder.RecordAsync(db, new IncomingEvent(message.EventId, message.Type, message.MerchantId, message.OccurredAt,
            message.DataJson), cancellation);
    }
}
