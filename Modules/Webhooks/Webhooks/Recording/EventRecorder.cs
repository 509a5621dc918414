using System.Text;
using System.Text.Json;
using Npgsql;
using Payments.BuildingBlocks;

namespace Payments.Webhooks.Recording;

/// <summary>An event to record, whatever module it came from; <c>Data</c> is the object's JSON.</summary>
internal sealed record IncomingEvent(string EventId, string Type, string MerchantId, DateTimeOffset OccurredAt, string DataJson);

/// <summary>
/// Records a module's event for the merchant's webhooks, once per event id, with the merchant's next sequence, and
/// queues a delivery to every enabled endpoint that asked for its type, all in one transaction. The sequence comes
/// from the merchant's counter row, whose lock (held to commit) serializes concurrent recorders of one merchant:
/// sequences are gap-free and follow the order in which events reach the recorder, which the outbox relay makes
/// the commit order of the changes.
/// </summary>
internal static class EventRecorder
{
    public static async Task RecordAsync(NpgsqlDataSource db, IncomingEvent evt, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using (var exists = new NpgsqlCommand("SELECT 1 FROM webhooks.events WHERE id = $1", conn))
        {
            exists.Parameters.Add(new() { Value = evt.EventId });
            if (await exists.ExecuteScalarAsync(ct) is not null)
            {
                return; // a redelivery from the outbox: recorded already
            }
        }

        await using var tx = await conn.BeginTransactionAsync(ct);
        long sequence;
        await using (var next = new NpgsqlCommand("""
            INSERT INTO webhooks.merchant_sequences (merchant_id, last_sequence) VALUES ($1, 1)
            ON CONFLICT (merchant_id) DO UPDATE SET last_sequence = webhooks.merchant_sequences.last_sequence + 1
            RETURNING last_sequence
            """, conn, tx))
        {
            next.Parameters.Add(new() { Value = evt.MerchantId });
            sequence = (long)(await next.ExecuteScalarAsync(ct))!;
        }

        var body = Body(evt, sequence);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO webhooks.events (id, merchant_id, sequence, type, created_at, recorded_at, body)
            VALUES ($1, $2, $3, $4, $5, now(), $6)
            ON CONFLICT (id) DO NOTHING
            """, conn, tx))
        {
            insert.Parameters.Add(new() { Value = evt.EventId });
            insert.Parameters.Add(new() { Value = evt.MerchantId });
            insert.Parameters.Add(new() { Value = sequence });
            insert.Parameters.Add(new() { Value = evt.Type });
            insert.Parameters.Add(new() { Value = evt.OccurredAt });
            insert.Parameters.Add(new() { Value = body });
            if (await insert.ExecuteNonQueryAsync(ct) == 0)
            {
                // A concurrent delivery of the same event won: give the sequence back.
                await tx.RollbackAsync(ct);
                return;
            }
        }

        await using (var queue = new NpgsqlCommand("""
            INSERT INTO webhooks.deliveries (endpoint_id, event_id, sequence, next_attempt_at, created_at)
            SELECT e.id, $1, $2, now(), now()
              FROM webhooks.endpoints e
             WHERE e.merchant_id = $3 AND e.status = 'ENABLED' AND e.deleted_at IS NULL
               AND ('*' = ANY (e.enabled_events) OR $4 = ANY (e.enabled_events))
            """, conn, tx))
        {
            queue.Parameters.Add(new() { Value = evt.EventId });
            queue.Parameters.Add(new() { Value = sequence });
            queue.Parameters.Add(new() { Value = evt.MerchantId });
            queue.Parameters.Add(new() { Value = evt.Type });
            await queue.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        DispatchSignal.Kick();
    }

    /// <summary>The event as merchants receive it: <c>{"id","type","sequence","created_at","data"}</c>.</summary>
    internal static string Body(IncomingEvent evt, long sequence)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", evt.EventId);
            w.WriteString("type", evt.Type);
            w.WriteNumber("sequence", sequence);
            w.WritePropertyName("created_at");
            JsonSerializer.Serialize(w, evt.OccurredAt, PaymentsJson.Options);
            w.WritePropertyName("data");
            w.WriteRawValue(evt.DataJson);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

/// <summary>Wakes this process's dispatchers right after an event committed, so delivery does not wait for a poll.</summary>
internal static class DispatchSignal
{
    public static event Action? Kicked;

    public static void Kick() => Kicked?.Invoke();
}
