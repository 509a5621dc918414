using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Lifecycle;

/// <summary>The settlement run's SQL (the daily schedule's and the sandbox route's).</summary>
internal sealed class SettlementData(NpgsqlDataSource db, TimeProvider clock)
{
    /// <summary>The advisory lock that keeps settlement to one run at a time across every Host process.</summary>
    private const long SettlementLock = 727274031;

    /// <summary>
    /// Settles every captured amount not yet settled, and every accepted refund, once. <paramref name="scheduledFor"/>
    /// makes it the daily run of that date (null when that run already happened); <paramref name="merchantId"/>
    /// limits it to one merchant (the sandbox route).
    /// </summary>
    public async Task<(string SettlementId, int Settled)?> SettleAsync(string? merchantId, DateOnly? scheduledFor, CancellationToken ct)
    {
        var now = clock.UtcNowMicros();
        var settlementId = PrefixedId.New("stl", clock);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = SettlementLock });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new NpgsqlCommand("""
            INSERT INTO transactions.settlements (settlement_id, merchant_id, scheduled_for, started_at)
            VALUES ($1, $2, $3, $4) ON CONFLICT (scheduled_for) DO NOTHING RETURNING 1
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = settlementId });
            cmd.Parameters.Add(new() { Value = (object?)merchantId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = (object?)scheduledFor ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date });
            cmd.Parameters.Add(new() { Value = now });
            if (await cmd.ExecuteScalarAsync(ct) is null)
            {
                await tx.RollbackAsync(ct);
                return null;
            }
        }
        var rows = new List<(TransactionRow Row, long Amount)>();
        await using (var cmd = new NpgsqlCommand($"""
            WITH due AS (
                SELECT trx_id, CASE WHEN type = 'PAYMENT' THEN captured_amount - settled_amount ELSE order_amount END AS amount
                  FROM transactions.transactions
                 WHERE ((type = 'PAYMENT' AND settled_amount < captured_amount)
                     OR (type = 'REFUND' AND decline_code IS NULL AND settled_amount = 0))
                   AND ($1::text IS NULL OR merchant_id = $1)
                 ORDER BY trx_id FOR UPDATE)
            UPDATE transactions.transactions t
               SET settled_amount = CASE WHEN t.type = 'PAYMENT' THEN t.captured_amount ELSE t.order_amount END,
                   version = t.version + 1, updated_at = GREATEST($2, t.updated_at)
              FROM due
             WHERE t.trx_id = due.trx_id
            RETURNING {TransactionRows.Columns}, due.amount
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = (object?)merchantId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = now });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                rows.Add((TransactionRows.Read(r), r.GetInt64(TransactionRows.ColumnCount)));
            }
        }
        if (rows.Count > 0)
        {
            await Changes.AppendEachAsync(conn, tx, rows, "SETTLE", TransactionEventTypes.Settled, now, ct);
        }
        await using (var cmd = new NpgsqlCommand("UPDATE transactions.settlements SET settled = $2 WHERE settlement_id = $1", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = settlementId });
            cmd.Parameters.Add(new() { Value = rows.Count });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return (settlementId, rows.Count);
    }
}
