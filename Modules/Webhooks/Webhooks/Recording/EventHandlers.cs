using System.Text.Json;
using Npgsql;
using Payments.BuildingBlocks;
using Payments.Transactions.Contracts;
using Payments.Webhooks.Contracts;

namespace Payments.Webhooks.Recording;

/// <summary>
/// Transactions' outbox events become merchant events. Public for Wolverine's discovery; idempotent by event id
/// (the relay delivers at least once).
/// </summary>
public static class TransactionEventHandler
{
    /// <summary>A relay batch addressed to this module (ADR 35), recorded in one transaction.</summary>
    public static Task HandleAsync(TransactionEventBatch batch, NpgsqlDataSource db, CancellationToken cancellation) =>
        batch.IsFor(typeof(TransactionEventHandler))
            ? EventRecorder.RecordManyAsync(db, batch.Events.Select(Incoming).ToList(), cancellation)
            : Task.CompletedTask;

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
