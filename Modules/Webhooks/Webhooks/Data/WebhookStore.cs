using System.Text;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks.Idempotency;

namespace Payments.Webhooks.Data;

internal sealed record EndpointRow(string Id, string Url, string[] EnabledEvents, string Status, string? DisabledReason,
    DateTimeOffset CreatedAt);

/// <summary>SQL of the <c>webhooks</c> schema for the merchant routes.</summary>
internal sealed class WebhookStore(NpgsqlDataSource db)
{
    public const int MaxEndpointsPerMerchant = 16;

    /// <summary>
    /// Inserts the endpoint and, with an <c>Idempotency-Key</c>, stores the answer to replay in the same transaction.
    /// False when the merchant already has <see cref="MaxEndpointsPerMerchant"/> endpoints.
    /// </summary>
    public async Task<bool> CreateEndpointAsync(string merchantId, EndpointRow row, byte[] nonce, byte[] sealedSecret,
        IdempotencyClaim? claim, byte[] replayBody, string? sealedAnswer, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Serializes one merchant's creations so the limit holds under concurrency.
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('webhooks.endpoints:' || $1, 0))", conn, tx))
        {
            lockCmd.Parameters.Add(new() { Value = merchantId });
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        await using (var count = new NpgsqlCommand(
            "SELECT count(*) FROM webhooks.endpoints WHERE merchant_id = $1 AND deleted_at IS NULL", conn, tx))
        {
            count.Parameters.Add(new() { Value = merchantId });
            if ((long)(await count.ExecuteScalarAsync(ct))! >= MaxEndpointsPerMerchant)
            {
                return false;
            }
        }
        await using var batch = new NpgsqlBatch(conn, tx);
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO webhooks.endpoints (id, merchant_id, url, enabled_events, status, secret_nonce, secret_sealed, created_at)
            VALUES ($1, $2, $3, $4, 'ENABLED', $5, $6, $7)
            """);
        insert.Parameters.Add(new() { Value = row.Id });
        insert.Parameters.Add(new() { Value = merchantId });
        insert.Parameters.Add(new() { Value = row.Url });
        insert.Parameters.Add(new() { Value = row.EnabledEvents, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = nonce });
        insert.Parameters.Add(new() { Value = sealedSecret });
        insert.Parameters.Add(new() { Value = row.CreatedAt });
        batch.BatchCommands.Add(insert);
        var headers = new Dictionary<string, string> { ["Content-Type"] = "application/json" };
        if (sealedAnswer is not null)
        {
            headers[AnswerSeal.Entry] = sealedAnswer;
        }
        var completion = claim?.CompletionCommand(201, replayBody, headers, row.CreatedAt);
        if (completion is not null)
        {
            batch.BatchCommands.Add(completion);
        }
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        claim?.MarkCommitted();
        return true;
    }

    public async Task<IReadOnlyList<EndpointRow>> ListEndpointsAsync(string merchantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT id, url, enabled_events, status, disabled_reason, created_at FROM webhooks.endpoints
             WHERE merchant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id
            """);
        cmd.Parameters.Add(new() { Value = merchantId });
        var rows = new List<EndpointRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            rows.Add(new EndpointRow(r.GetString(0), r.GetString(1), r.GetFieldValue<string[]>(2), r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetFieldValue<DateTimeOffset>(5)));
        }
        return rows;
    }

    /// <summary>Deletes the merchant's endpoint and cancels what was still queued for it. False when unknown.</summary>
    public async Task<bool> DeleteEndpointAsync(string merchantId, string endpointId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var del = new NpgsqlCommand("""
            UPDATE webhooks.endpoints SET deleted_at = now() WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL
            """, conn, tx))
        {
            del.Parameters.Add(new() { Value = endpointId });
            del.Parameters.Add(new() { Value = merchantId });
            if (await del.ExecuteNonQueryAsync(ct) == 0)
            {
                return false;
            }
        }
        await using (var cancel = new NpgsqlCommand("""
            UPDATE webhooks.deliveries SET state = 'CANCELED', done_at = now() WHERE endpoint_id = $1 AND state = 'PENDING'
            """, conn, tx))
        {
            cancel.Parameters.Add(new() { Value = endpointId });
            await cancel.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// <c>{"data":[events after the sequence, oldest first],"has_more"}</c>, built from the stored bodies so every
    /// event reads byte for byte as it was delivered.
    /// </summary>
    public async Task<byte[]> ListEventsJsonAsync(string merchantId, long afterSequence, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT body FROM webhooks.events WHERE merchant_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3
            """);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = afterSequence });
        cmd.Parameters.Add(new() { Value = limit + 1 });
        var bodies = new List<string>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                bodies.Add(r.GetString(0));
            }
        }
        var hasMore = bodies.Count > limit;
        var json = new StringBuilder("{\"data\":[");
        json.AppendJoin(',', bodies.Take(limit));
        json.Append("],\"has_more\":").Append(hasMore ? "true" : "false").Append('}');
        return Encoding.UTF8.GetBytes(json.ToString());
    }

    /// <summary>
    /// Queues the merchant's event again for every enabled endpoint that asked for its type; it goes out in sequence
    /// order with what is pending there. Null when the event is unknown or another merchant's.
    /// </summary>
    public async Task<int?> RedeliverAsync(string merchantId, string eventId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        string type;
        long sequence;
        await using (var find = new NpgsqlCommand("SELECT type, sequence FROM webhooks.events WHERE id = $1 AND merchant_id = $2", conn, tx))
        {
            find.Parameters.Add(new() { Value = eventId });
            find.Parameters.Add(new() { Value = merchantId });
            await using var r = await find.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                return null;
            }
            (type, sequence) = (r.GetString(0), r.GetInt64(1));
        }
        int queued;
        await using (var queue = new NpgsqlCommand("""
            INSERT INTO webhooks.deliveries (endpoint_id, event_id, sequence, next_attempt_at, created_at)
            SELECT e.id, $1, $2, now(), now()
              FROM webhooks.endpoints e
             WHERE e.merchant_id = $3 AND e.status = 'ENABLED' AND e.deleted_at IS NULL
               AND ('*' = ANY (e.enabled_events) OR $4 = ANY (e.enabled_events))
            """, conn, tx))
        {
            queue.Parameters.Add(new() { Value = eventId });
            queue.Parameters.Add(new() { Value = sequence });
            queue.Parameters.Add(new() { Value = merchantId });
            queue.Parameters.Add(new() { Value = type });
            queued = await queue.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return queued;
    }
}
