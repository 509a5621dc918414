using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.Sandbox;

/// <summary>The sandbox chargeback's SQL: a child transaction and the payment's charged-back amount, together.</summary>
internal sealed class ChargebackData(NpgsqlDataSource db, PendingCreations creations)
{
    public async Task<Changed> ChargebackAsync(string merchantId, string paymentTrxId, long amount, string reasonCode,
        IdempotencyClaim? claim, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var payment = await TransactionRows.ReadAsync(conn, tx, merchantId, paymentTrxId, ct, forUpdate: true)
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
        // The CHARGEBACK row's creation time, pending for the list's as_of until this transaction ended.
        using var creation = creations.Stamp(merchantId);
        var now = creation.At;
        var updated = await ChildTransactions.UpdatePaymentAsync(conn, tx, paymentTrxId, """
            charged_back_amount = charged_back_amount + $2,
            over_recovered = over_recovered OR refunded_amount + charged_back_amount + $2 > captured_amount
            """, "charged_back_amount + $2 <= captured_amount", amount, now, ct)
            ?? throw new ProblemException(422, ErrorCodes.AmountExceedsCaptured, "The amount is more than was captured.");
        var child = await ChildTransactions.InsertAsync(conn, tx, updated, TransactionTypes.Chargeback, amount, null, reasonCode, null, now, ct);
        return await ChildTransactions.FinishAsync(conn, tx, updated, child, "CHARGEBACK", amount, true,
            TransactionEventTypes.ChargebackCreated, TransactionEventTypes.ChargedBack, claim, now, ct);
    }
}
