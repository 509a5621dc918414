using Npgsql;
using Payments.Transactions.Contracts;

namespace Payments.Intents.Handlers;

/// <summary>
/// The intent learns what its payment became. Idempotent and order-proof: a success is final, a decline applies only to
/// an intent still waiting, so redeliveries and late arrivals change nothing.
/// </summary>
public static class TransactionEventHandler
{
    /// <summary>A relay batch: its events in order (few concern an intent; each is one conditional UPDATE).</summary>
    public static async Task Handle(TransactionEventBatch batch, NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        foreach (var e in batch.Events)
        {
            await Handle(e, db, clock, ct);
        }
    }

    public static async Task Handle(TransactionEvent e, NpgsqlDataSource db, TimeProvider clock, CancellationToken ct)
    {
        var t = e.Transaction;
        if (t.PaymentIntentId is null || t.Type != TransactionTypes.Payment ||
            e.Type is not (TransactionEventTypes.Authorized or TransactionEventTypes.Captured or TransactionEventTypes.Declined))
        {
            return;
        }
        var declined = e.Type == TransactionEventTypes.Declined;
        await using var cmd = db.CreateCommand(declined
            ? """
              UPDATE intents.payment_intents
                 SET status = 'REQUIRES_PAYMENT_METHOD', card_token = NULL, last_decline_code = $4, transaction_id = $3, updated_at = $5
               WHERE id = $1 AND merchant_id = $2 AND status IN ('REQUIRES_PAYMENT_METHOD', 'REQUIRES_CONFIRMATION')
                 AND (transaction_id IS NULL OR transaction_id < $3)
              """
            : """
              UPDATE intents.payment_intents
                 SET status = 'SUCCEEDED', transaction_id = $3, last_decline_code = NULL, updated_at = $5
               WHERE id = $1 AND merchant_id = $2 AND status <> 'SUCCEEDED'
              """);
        cmd.Parameters.Add(new() { Value = t.PaymentIntentId });
        cmd.Parameters.Add(new() { Value = e.MerchantId });
        cmd.Parameters.Add(new() { Value = t.TrxId });
        cmd.Parameters.Add(new() { Value = (object?)t.DeclineCode ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var now = clock.GetUtcNow();
        cmd.Parameters.Add(new() { Value = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % 10), TimeSpan.Zero) });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
