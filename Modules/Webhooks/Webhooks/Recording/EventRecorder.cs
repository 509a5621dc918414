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
    public static Task RecordAsync(NpgsqlDataSource db, IncomingEvent evt, CancellationToken ct) => RecordManyAsync(db, [evt], ct);

    /// <summary>
    /// Records consecutive events in one transaction and one round trip (one commit for the batch), in their order.
    /// If a concurrent delivery recorded one of them meanwhile, the batch is rolled back and its events are recorded
    /// one by one, so no sequence number is skipped.
    /// </summary>
    public static async Task RecordManyAsync(NpgsqlDataSource db, IReadOnlyList<IncomingEvent> events, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return;
        }
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var clean = true;
        var recorded = false;
        await using (var batch = new NpgsqlBatch(conn, tx))
        {
            foreach (var evt in events)
            {
                batch.BatchCommands.Add(RecordCommand(evt));
            }
            await using var r = await batch.ExecuteReaderAsync(ct);
            do
            {
                await r.ReadAsync(ct);
                var (taken, inserted) = (r.GetInt64(0), r.GetInt64(1));
                clean &= taken == inserted;
                recorded |= inserted > 0;
            }
            while (await r.NextResultAsync(ct));
        }
        if (!clean)
        {
            // A concurrent delivery of one of them won: give the sequences back.
            await tx.RollbackAsync(ct);
            if (events.Count > 1)
            {
                foreach (var evt in events)
                {
                    await RecordAsync(db, evt, ct);
                }
            }
            return;
        }
        await tx.CommitAsync(ct);
        if (recorded)
        {
            DispatchSignal.Kick();
        }
    }

    /// <summary>
    /// One statement: the next sequence (skipped for an event already recorded), the event with that sequence in its
    /// body, and its deliveries. Answers how many sequences it took and how many events it inserted.
    /// </summary>
    private static NpgsqlBatchCommand RecordCommand(IncomingEvent evt)
    {
        var (head, tail) = BodyAround(evt);
        var cmd = new NpgsqlBatchCommand("""
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
            """);
        cmd.Parameters.Add(new() { Value = evt.EventId });
        cmd.Parameters.Add(new() { Value = evt.MerchantId });
        cmd.Parameters.Add(new() { Value = evt.Type });
        cmd.Parameters.Add(new() { Value = evt.OccurredAt });
        cmd.Parameters.Add(new() { Value = head });
        cmd.Parameters.Add(new() { Value = tail });
        return cmd;
    }

    /// <summary>
    /// The event as merchants receive it, <c>{"id","type","sequence","created_at","data"}</c>, as its text before and
    /// after the sequence number, which the database assigns.
    /// </summary>
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
