using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Lifecycle;

/// <summary>
/// The expiry sweep's SQL (also the sandbox route's): open payments past their window release what remains, in batches
/// of rows locked by one statement; and the retention of delivered outbox rows, which the same sweep runs.
/// </summary>
internal sealed class ExpiryData(NpgsqlDataSource db, TimeProvider clock, IOptions<TransactionsOptions> options)
{
    private const int SweepBatch = 500;

    /// <summary>Releases the remaining amount of every open payment whose window ended by <paramref name="asOf"/>.</summary>
    public async Task<int> ExpireAsync(DateTimeOffset asOf, string? merchantId, CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            var now = clock.UtcNowMicros();
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            var rows = new List<(TransactionRow Row, long Amount)>();
            await using (var cmd = new NpgsqlCommand($"""
                WITH due AS (
                    SELECT trx_id, order_amount - captured_amount - voided_amount AS remaining
                      FROM transactions.transactions
                     WHERE status = ANY($1) AND authorization_expires_at <= $2 AND ($3::text IS NULL OR merchant_id = $3)
                     ORDER BY trx_id LIMIT {SweepBatch} FOR UPDATE)
                UPDATE transactions.transactions t
                   SET voided_amount = t.order_amount - t.captured_amount, expired_at = $4, version = t.version + 1, updated_at = GREATEST($4, t.updated_at)
                  FROM due
                 WHERE t.trx_id = due.trx_id AND t.status = ANY($1)
                RETURNING {TransactionRows.Columns}, due.remaining
                """, conn, tx))
            {
                cmd.Parameters.Add(new() { Value = TransactionRows.OpenStatuses });
                cmd.Parameters.Add(new() { Value = asOf });
                cmd.Parameters.Add(new() { Value = (object?)merchantId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
                cmd.Parameters.Add(new() { Value = now });
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct))
                {
                    rows.Add((TransactionRows.Read(r), r.GetInt64(TransactionRows.ColumnCount)));
                }
            }
            if (rows.Count == 0)
            {
                await tx.CommitAsync(ct);
                return total;
            }
            await Changes.AppendEachAsync(conn, tx, rows, "EXPIRE", TransactionEventTypes.Expired, now, ct);
            await tx.CommitAsync(ct);
            total += rows.Count;
        }
    }

    /// <summary>
    /// Deletes delivered outbox rows older than <see cref="TransactionsOptions.OutboxRetention"/> among the 10,000
    /// oldest, so each pass reads a bounded slice of the primary key however large the table is, and the relay's due
    /// holds that cover no pending row their module lacks (left by a Host of older code, a renamed module, or a race
    /// ADR 35 names). Returns how many rows.
    /// </summary>
    public async Task<int> PurgeDeliveredOutboxAsync(CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        var rows = new NpgsqlBatchCommand("""
            DELETE FROM transactions.outbox WHERE id IN (
              SELECT id FROM (SELECT id, created_at, dispatched_at FROM transactions.outbox ORDER BY id LIMIT 10000) oldest
               WHERE dispatched_at IS NOT NULL AND created_at < $1)
            """);
        rows.Parameters.Add(new() { Value = clock.GetUtcNow() - options.Value.OutboxRetention });
        batch.BatchCommands.Add(rows);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            DELETE FROM transactions.outbox_holds h
             WHERE h.retry_at < now()
               AND NOT EXISTS (SELECT 1 FROM transactions.outbox o
                                WHERE o.merchant_id = h.merchant_id AND o.id >= h.outbox_id AND o.dispatched_at IS NULL
                                  AND h.subscriber <> ALL (o.delivered_to))
            """));
        await batch.ExecuteNonQueryAsync(ct);
        return rows.RecordsAffected;
    }
}
