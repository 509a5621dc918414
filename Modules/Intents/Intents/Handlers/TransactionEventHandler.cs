using Npgsql;
using NpgsqlTypes;
using Payments.Transactions.Contracts;

namespace Payments.Intents.Handlers;

/// <summary>
/// The intent learns what its payment became. Idempotent and order-proof: a success is final, a decline applies only to
/// an intent still waiting, so redeliveries and late arrivals change nothing. Public for Wolverine's discovery; the
/// relay hands this module its own batches (ADR 35); sealed, not static, to name them.
/// </summary>
public sealed class TransactionEventHandler
{
    /// <summary>A relay batch: the events that concern an intent, in order, in one round trip and one commit.</summary>
    public static async Task Handle(TransactionEventBatch<TransactionEventHandler> batch, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var updates = batch.Events.Select(e => Update(e, clock)).OfType<NpgsqlBatchCommand>().ToList();
        if (updates.Count == 0)
        {
            return;
        }
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = new NpgsqlBatch(conn, tx);
        updates.ForEach(cmd.BatchCommands.Add);
        await cmd.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>The conditional UPDATE an event makes to its intent, or null when it concerns none.</summary>
    private static NpgsqlBatchCommand? Update(TransactionEvent e, TimeProvider clock)
    {
        var t = e.Transaction;
        if (t.PaymentIntentId is null || t.Type != TransactionTypes.Payment ||
            e.Type is not (TransactionEventTypes.Authorized or TransactionEventTypes.Captured or TransactionEventTypes.Declined))
        {
            return null;
        }
        var declined = e.Type == TransactionEventTypes.Declined;
        var cmd = new NpgsqlBatchCommand(declined
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
        cmd.Parameters.Add(new() { Value = (object?)t.DeclineCode ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var now = clock.GetUtcNow();
        cmd.Parameters.Add(new() { Value = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % 10), TimeSpan.Zero) });
        return cmd;
    }
}
