namespace Payments.Transactions.Contracts;

/// <summary>
/// How the Refunds module records a refund. The ledger holds the money invariant
/// (<c>refunded_amount + charged_back_amount &lt;= captured_amount</c>) in the database and serializes
/// concurrent refunds of one payment under its row lock; the caller supplies the rules and the acquirer call.
/// </summary>
public interface IRefundLedger
{
    /// <summary>
    /// Locks the merchant's payment <paramref name="paymentTrxId"/>, hands it to <paramref name="decide"/> (which checks
    /// the contract's rules, throwing to refuse, and asks the acquirer), then records the outcome in one database
    /// transaction: a <c>REFUND</c> transaction (<c>CAPTURED</c> when approved, <c>DECLINED</c> with its code
    /// otherwise), the payment's grown <c>refunded_amount</c> (approved only), both histories, the events, and
    /// the current request's <c>Idempotency-Key</c> answer (201 with the returned refund, history included).
    /// </summary>
    /// <param name="merchantId">The calling merchant.</param>
    /// <param name="paymentTrxId">The payment to refund; null is returned when it is unknown or another merchant's.</param>
    /// <param name="decide">Runs while the payment is locked: validate, call the acquirer, say what happened.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The refund and the payment after it, or null when the payment was not found.</returns>
    Task<RecordedRefund?> RecordRefundAsync(
        string merchantId,
        string paymentTrxId,
        Func<TransactionSnapshot, CancellationToken, Task<RefundDecision>> decide,
        CancellationToken ct);

    /// <summary>Kicks the event relay; call after <see cref="RecordRefundAsync"/> returned.</summary>
    void PublishPending();
}

/// <summary>What the acquirer said about a refund of <paramref name="Amount"/>.</summary>
/// <param name="Amount">The amount refunded (or refused), 1 to the payment's refundable amount.</param>
/// <param name="Approved">True when the acquirer accepted it.</param>
/// <param name="DeclineCode">The acquirer's code when refused.</param>
/// <param name="Reason">The merchant's reason, kept with the refund.</param>
public sealed record RefundDecision(long Amount, bool Approved, string? DeclineCode, string? Reason);

/// <summary>The recorded refund (with history) and its payment after the change.</summary>
public sealed record RecordedRefund(TransactionSnapshot Refund, TransactionSnapshot Payment);
