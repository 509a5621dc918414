using Npgsql;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>
/// A refund or a chargeback: a child transaction and its payment's amounts, changed in one database transaction the
/// caller opened. The refund ledger and the sandbox chargeback share these steps.
/// </summary>
internal static class ChildTransactions
{
    /// <summary>Changes the payment's amounts by <paramref name="set"/> when <paramref name="condition"/> holds ($2 is the amount).</summary>
    public static async Task<TransactionRow?> UpdatePaymentAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string trxId,
        string set, string condition, long amount, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            UPDATE transactions.transactions t SET {set}, version = version + 1, updated_at = GREATEST($3, t.updated_at)
             WHERE trx_id = $1 AND {condition}
            RETURNING {TransactionRows.Columns}
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = trxId });
        cmd.Parameters.Add(new() { Value = amount });
        cmd.Parameters.Add(new() { Value = now });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? TransactionRows.Read(r) : null;
    }

    public static async Task<TransactionRow> InsertAsync(NpgsqlConnection conn, NpgsqlTransaction tx, TransactionRow payment,
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

    /// <summary>The child's history and event, the payment's when its amounts changed, the stored answer; then the commit.</summary>
    public static async Task<Changed> FinishAsync(NpgsqlConnection conn, NpgsqlTransaction tx, TransactionRow payment, TransactionRow child,
        string operation, long amount, bool paymentChanged, string childEvent, string paymentEvent, IdempotencyClaim? claim,
        DateTimeOffset now, CancellationToken ct)
    {
        var childEntry = HistoryChain.Next(child.Snapshot.TrxId, null, operation, amount, child.Snapshot.Status, now);
        var final = child.Snapshot with { History = [childEntry] };
        var body = Changes.Serialize(final);
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(HistoryChain.InsertCommand(child.Snapshot.TrxId, childEntry));
        batch.BatchCommands.Add(OutboxWriter.Command(childEvent, child.MerchantId, now, child.Snapshot));
        if (paymentChanged)
        {
            var history = await TransactionRows.ReadHistoryAsync(conn, tx, payment.Snapshot.TrxId, ct);
            var entry = HistoryChain.Next(payment.Snapshot.TrxId, history.LastOrDefault(), operation, amount, payment.Snapshot.Status, now);
            batch.BatchCommands.Add(HistoryChain.InsertCommand(payment.Snapshot.TrxId, entry));
            batch.BatchCommands.Add(OutboxWriter.Command(paymentEvent, payment.MerchantId, now, payment.Snapshot));
        }
        Changes.AddCompletion(batch, claim, 201, body, final.Version, now);
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        claim?.MarkCommitted();
        return new Changed(final, body);
    }
}
