using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.Intents.Contracts;
using Payments.Intents.Data;
using Payments.Transactions.Contracts;

namespace Payments.Intents.Handlers;

/// <summary>
/// The intent learns what its payment became, should the confirming request not have recorded it (it does at once, with
/// <see cref="IntentStore.FinishAsync"/>). Idempotent and order-proof: a success is final, a decline applies only to
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

    /// <summary>The conditional UPDATE an event makes to its intent (<see cref="IntentStore.OutcomeCommand"/>), or null when it concerns none.</summary>
    private static NpgsqlBatchCommand? Update(TransactionEvent e, TimeProvider clock)
    {
        var t = e.Transaction;
        if (t.PaymentIntentId is null || t.Type != TransactionTypes.Payment ||
            e.Type is not (TransactionEventTypes.Authorized or TransactionEventTypes.Captured or TransactionEventTypes.Declined))
        {
            return null;
        }
        return IntentStore.OutcomeCommand(e.MerchantId, t.PaymentIntentId,
            new ConfirmedPayment(t.TrxId, e.Type == TransactionEventTypes.Declined, t.DeclineCode), clock.UtcNowMicros());
    }
}
