using Payments.BuildingBlocks.Http;
using Payments.Transactions.Contracts;

namespace Payments.Refunds.Domain;

/// <summary>
/// Whether and how much a payment may be refunded, judged on the payment as locked by the ledger. The order is the
/// contract's: the If-Match precondition, then the state, then the amount.
/// </summary>
internal static class RefundRules
{
    /// <summary>The amount to refund: <paramref name="requested"/>, or all still refundable when null. Throws to refuse.</summary>
    public static long AmountToRefund(TransactionSnapshot payment, long? requested, long? ifMatch)
    {
        if (ifMatch is { } version && payment.Version != version)
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
        return amount;
    }
}
