using Npgsql;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

internal sealed partial class TransactionStore
{
    /// <summary>The advisory lock that keeps settlement to one run at a time across every Host process.</summary>
    private const long SettlementLock = 727274031;
    private const int SweepBatch = 500;

    // ---------- outbox retention ----------

    /// <summary>
    /// Deletes delivered outbox rows older than <see cref="TransactionsOptions.OutboxRetention"/> among the 10,000
    /// oldest, so each pass reads a bounded slice of the primary key however large the table is. Returns how many.
    /// </summary>
    public async Task<int> PurgeDeliveredOutboxAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            DELETE FROM transactions.outbox WHERE id IN (
              SELECT id FROM (SELECT id, created_at, dispatched_at FROM transactions.outbox ORDER BY id LIMIT 10000) oldest
               WHERE dispatched_at IS NOT NULL AND created_at < $1)
            """);
        cmd.Parameters.Add(new() { Value = clock.GetUtcNow() - options.Value.OutboxRetention });
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    // ---------- expiry ----------

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
                   SET voided_amount = t.order_amount - t.captured_amount, expired_at = $4, version = t.version + 1, updated_at = $4
                  FROM due
                 WHERE t.trx_id = due.trx_id AND t.status = ANY($1)
                RETURNING {TransactionRows.Columns}, due.remaining
                """, conn, tx))
            {
                cmd.Parameters.Add(new() { Value = OpenStatuses });
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
            await AppendAsync(conn, tx, rows, "EXPIRE", TransactionEventTypes.Expired, now, ct);
            await tx.CommitAsync(ct);
            total += rows.Count;
        }
    }

    // ---------- settlement ----------

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
                   version = t.version + 1, updated_at = $2
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
            await AppendAsync(conn, tx, rows, "SETTLE", TransactionEventTypes.Settled, now, ct);
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

    /// <summary>Appends one history entry and one event per changed row (rows are locked by the caller's statement).</summary>
    private static async Task AppendAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<(TransactionRow Row, long Amount)> rows,
        string operation, string eventType, DateTimeOffset now, CancellationToken ct)
    {
        var last = new Dictionary<string, HistoryEntry>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand($"""
            SELECT DISTINCT ON (trx_id) trx_id, {TransactionRows.HistoryColumns}
              FROM transactions.history WHERE trx_id = ANY($1) ORDER BY trx_id, seq DESC
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = rows.Select(r => r.Row.Snapshot.TrxId).ToArray() });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                last[r.GetString(0)] = new HistoryEntry(r.GetInt32(1), r.GetString(2), r.GetInt64(3), r.GetString(4),
                    r.GetFieldValue<DateTimeOffset>(5), r.GetString(6), r.GetString(7));
            }
        }
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var (row, amount) in rows)
        {
            var s = row.Snapshot;
            var entry = HistoryChain.Next(s.TrxId, last.GetValueOrDefault(s.TrxId), operation, amount, s.Status, now);
            batch.BatchCommands.Add(HistoryCommand(s.TrxId, entry));
            batch.BatchCommands.Add(OutboxWriter.Command(eventType, row.MerchantId, now, s));
        }
        await batch.ExecuteNonQueryAsync(ct);
    }

    // ---------- chargebacks and refunds: a child transaction and the payment's amounts, together ----------

    public async Task<Changed> ChargebackAsync(string merchantId, string paymentTrxId, long amount, string reasonCode,
        IdempotencyClaim? claim, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var payment = await ReadRowAsync(conn, tx, merchantId, paymentTrxId, ct, forUpdate: true)
                      ?? throw ProblemException.NotFound("The transaction");
        var p = payment.Snapshot;
        if (p.Type != TransactionTypes.Payment || p.Status == TransactionStatuses.Declined)
        {
            throw ProblemException.InvalidState($"A chargeback applies to a payment with a capture, not to a {p.Type} in status {p.Status}.");
        }
        if (amount > p.CapturedAmount - p.ChargedBackAmount)
        {
            throw new ProblemException(422, ErrorCodes.AmountExceedsCaptured,
                $"The amount {amount} is more than the {p.CapturedAmount - p.ChargedBackAmount} captured and not charged back.");
        }
        var now = clock.UtcNowMicros();
        var updated = await UpdatePaymentAsync(conn, tx, paymentTrxId, """
            charged_back_amount = charged_back_amount + $2,
            over_recovered = over_recovered OR refunded_amount + charged_back_amount + $2 > captured_amount
            """, "charged_back_amount + $2 <= captured_amount", amount, now, ct)
            ?? throw new ProblemException(422, ErrorCodes.AmountExceedsCaptured, "The amount is more than was captured.");
        var child = await InsertChildAsync(conn, tx, updated, TransactionTypes.Chargeback, amount, null, reasonCode, null, now, ct);
        return await FinishChildAsync(conn, tx, updated, child, "CHARGEBACK", amount, true,
            TransactionEventTypes.ChargebackCreated, TransactionEventTypes.ChargedBack, claim, now, ct);
    }

    private static async Task<TransactionRow?> UpdatePaymentAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string trxId,
        string set, string condition, long amount, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            UPDATE transactions.transactions t SET {set}, version = version + 1, updated_at = $3
             WHERE trx_id = $1 AND {condition}
            RETURNING {TransactionRows.Columns}
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = trxId });
        cmd.Parameters.Add(new() { Value = amount });
        cmd.Parameters.Add(new() { Value = now });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? TransactionRows.Read(r) : null;
    }

    private static async Task<TransactionRow> InsertChildAsync(NpgsqlConnection conn, NpgsqlTransaction tx, TransactionRow payment,
        string type, long amount, string? declineCode, string? reasonCode, string? reason, DateTimeOffset now, CancellationToken ct,
        string? trxId = null, string? authorizationCode = null)
    {
        var p = payment.Snapshot;
        await using var cmd = new NpgsqlCommand($"""
            INSERT INTO transactions.transactions AS t
                (trx_id, merchant_id, type, order_amount, currency, settled_amount, order_id, payment_intent_id, parent_trx_id,
                 card_token, card_brand, card_last4, decline_code, reason_code, reason, created_at, updated_at, authorization_code)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17)
            RETURNING {TransactionRows.Columns}
            """, conn, tx);
        foreach (var v in new object?[]
                 {
                     trxId ?? PrefixedId.New("trx"), payment.MerchantId, type, amount, p.Currency,
                     type == TransactionTypes.Chargeback ? amount : 0L, p.OrderId, p.PaymentIntentId, p.TrxId,
                     payment.CardToken, p.Card?.Brand, p.Card?.Last4, declineCode, reasonCode, reason, now, authorizationCode,
                 })
        {
            cmd.Parameters.Add(new() { Value = v ?? DBNull.Value });
        }
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return TransactionRows.Read(r);
    }

    private async Task<Changed> FinishChildAsync(NpgsqlConnection conn, NpgsqlTransaction tx, TransactionRow payment, TransactionRow child,
        string operation, long amount, bool paymentChanged, string childEvent, string paymentEvent, IdempotencyClaim? claim,
        DateTimeOffset now, CancellationToken ct)
    {
        var childEntry = HistoryChain.Next(child.Snapshot.TrxId, null, operation, amount, child.Snapshot.Status, now);
        var final = child.Snapshot with { History = [childEntry] };
        var body = Serialize(final);
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(HistoryCommand(child.Snapshot.TrxId, childEntry));
        batch.BatchCommands.Add(OutboxWriter.Command(childEvent, child.MerchantId, now, child.Snapshot));
        if (paymentChanged)
        {
            var history = await ReadHistoryAsync(conn, tx, payment.Snapshot.TrxId, ct);
            var entry = HistoryChain.Next(payment.Snapshot.TrxId, history.LastOrDefault(), operation, amount, payment.Snapshot.Status, now);
            batch.BatchCommands.Add(HistoryCommand(payment.Snapshot.TrxId, entry));
            batch.BatchCommands.Add(OutboxWriter.Command(paymentEvent, payment.MerchantId, now, payment.Snapshot));
        }
        AddCompletion(batch, claim, 201, body, final.Version, now);
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        claim?.MarkCommitted();
        return new Changed(final, body);
    }
}
