using Payments.BuildingBlocks.Http;
using Payments.Transactions.Contracts;

namespace Payments.Refunds.Domain;

/// <summary>
/// Whether and how much a payment may be refunded, judged on the payment as locked by the ledger for the reservation.
/// The order is the contract's: the If-Match precondition, then the state, then the amount.
/// </summary>
/// <remarks>
/// Refunds in flight (reserved, not yet booked) do not show on the payment, so a decision that depends on how they end
/// waits for them, which keeps concurrent refunds serialized as the contract says: each answers as it would have
/// alone, in some order. That is a refund that fits only if one in flight is declined, a refund of "all still
/// refundable", and one with If-Match (the booking of one in flight changes the version).
/// </remarks>
internal static class RefundRules
{
    /// <summary>
    /// The amount to reserve: <paramref name="requested"/>, or all still refundable when null. Null: wait for the refunds
    /// in flight and ask again. When <paramref name="mayWait"/> is false (waited long enough), refunds still in flight
    /// count as made. Throws to refuse.
    /// </summary>
    public static long? AmountToReserve(TransactionSnapshot payment, long? requested, IfMatchCondition? ifMatch, bool mayWait)
    {
        if (ifMatch is not null && !ifMatch.Matches(payment.Version))
        {
            throw new ProblemException(412, ErrorCodes.PreconditionFailed, "The payment changed since the ETag given in If-Match.");
        }
        if (payment.Type != TransactionTypes.Payment)
        {
            throw ProblemException.InvalidState($"A {payment.Type} transaction cannot be refunded; refund its payment.");
        }
        if (payment.CapturedAmount <= 0)
        {
            throw ProblemException.InvalidState($"A payment in status {payment.Status} has nothing captured to refund.");
        }
        // A chargeback may take refunded + charged back above captured (over_recovered): then nothing is refundable.
        var refundable = Math.Max(0, payment.Refundable);
        var amount = requested ?? refundable;
        if (refundable == 0)
        {
            throw new ProblemException(422, ErrorCodes.AmountExceedsRefundable,
                "Nothing remains refundable: the captured amount is already refunded or charged back.");
        }
        if (amount > refundable)
        {
            throw new ProblemException(422, ErrorCodes.AmountExceedsRefundable,
                $"The amount {amount} is more than the {refundable} still refundable.");
        }
        var free = Math.Max(0, refundable - payment.RefundReserved);
        if (payment.RefundReserved == 0 || (requested is not null && amount <= free && ifMatch is null))
        {
            return amount;
        }
        if (mayWait)
        {
            return null;
        }
        if (ifMatch is not null)
        {
            throw new ProblemException(412, ErrorCodes.PreconditionFailed,
                "The payment has a refund in flight that changes it; read it again once that refund is answered.");
        }
        if (requested is null && free > 0)
        {
            return free;
        }
        throw new ProblemException(422, ErrorCodes.AmountExceedsRefundable,
            $"The amount {amount} is more than the {free} still refundable: refunds in flight hold the rest.");
    }
}
