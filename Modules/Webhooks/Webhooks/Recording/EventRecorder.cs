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
        var (head, tail) = BodyAround(evt);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long taken, recorded;
        // One statement, one round trip: the next sequence (skipped for an event already recorded), the event with
        // that sequence in its body, and its deliveries.
        await using (var cmd = new NpgsqlCommand("""
            WITH seq AS (
                INSERT INTO webhooks.merchant_sequences AS s (merchant_id, last_sequence)
                SELECT $2, 1 WHERE NOT EXISTS (SELECT 1 FROM webhooks.events WHERE id = $1)
                ON CONFLICT (merchant_id) DO UPDATE SET last_sequence = s.last_sequence + 1
                RETURNING last_sequence),
            ev AS (
                INSERT INTO webhooks.events (id, merchant_id, sequence, type, created_at, recorded_at, body)
                SELECT $1, $2, seq.last_sequence, $3, $4, now(), $5 || seq.last_sequence || $6 FROM seq
                ON CONFLICT (id) DO NOTHING
                RETURNING id, sequence),
            queued AS (
                INSERT INTO webhooks.deliveries (endpoint_id, event_id, sequence, next_attempt_at, created_at)
                SELECT e.id, ev.id, ev.sequence, now(), now()
                  FROM ev JOIN webhooks.endpoints e
                    ON e.merchant_id = $2 AND e.status = 'ENABLED' AND e.deleted_at IS NULL
                   AND ('*' = ANY (e.enabled_events) OR $3 = ANY (e.enabled_events)))
            SELECT (SELECT count(*) FROM seq), (SELECT count(*) FROM ev)
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = evt.EventId });
            cmd.Parameters.Add(new() { Value = evt.MerchantId });
            cmd.Parameters.Add(new() { Value = evt.Type });
            cmd.Parameters.Add(new() { Value = evt.OccurredAt });
            cmd.Parameters.Add(new() { Value = head });
            cmd.Parameters.Add(new() { Value = tail });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            await r.ReadAsync(ct);
            (taken, recorded) = (r.GetInt64(0), r.GetInt64(1));
        }
        if (taken != recorded)
        {
            // A concurrent delivery of the same event won: give the sequence back.
            await tx.RollbackAsync(ct);
            return;
        }
        await tx.CommitAsync(ct);
        if (recorded > 0)
        {
            DispatchSignal.Kick();
        }
    }

    /// <summary>The event as merchants receive it: <c>{"id","type","sequence","created_at","data"}</c>.</summary>
    internal static string Body(IncomingEvent evt, long sequence)
    {
        var (head, tail) = BodyAround(evt);
        return head + sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) + tail;
    }

    /// <summary>The body's text before and after the sequence number, which the database assigns.</summary>
    private static (string Head, string Tail) BodyAround(IncomingEvent evt)
    {
        using var buffer = new MemoryStream();
        int zeroAt;
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", evt.EventId);
            w.WriteString("type", evt.Type);
            w.WriteNumber("sequence", 0);
            w.Flush();
            zeroAt = (int)buffer.Length - 1; // the placeholder's one byte
            w.WritePropertyName("created_at");
            JsonSerializer.Serialize(w, evt.OccurredAt, PaymentsJson.Options);
            w.WritePropertyName("data");
            w.WriteRawValue(evt.DataJson);
            w.WriteEndObject();
        }
        var bytes = buffer.GetBuffer();
        return (Encoding.UTF8.GetString(bytes, 0, zeroAt), Encoding.UTF8.GetString(bytes, zeroAt + 1, (int)buffer.Length - zeroAt - 1));
    }
}

/// <summary>Wakes this process's dispatchers right after an event committed, so delivery does not wait for a poll.</summary>
internal static class DispatchSignal
{
    public static event Action? Kicked;

    public static void Kick() => Kicked?.Invoke();
}
