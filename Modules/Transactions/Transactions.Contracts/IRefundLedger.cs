namespace Payments.Transactions.Contracts;

/// <summary>
/// How the Refunds module records a refund, in two short database transactions with the acquirer call between them
/// and no lock held across it (docs/adr/0082). The ledger holds the money invariants in the database: reservations
/// are taken only out of what is refundable (<c>captured − refunded − charged back − reserved</c>), and a reservation
/// is booked or released at most once, so concurrent refunds on any number of Hosts, and the recovery of refunds whose
/// Host died, never refund more than was captured or book one refund twice.
/// </summary>
public interface IRefundLedger
{
    /// <summary>
    /// Reserves a refund of the merchant's payment: hands the payment, briefly locked, to <paramref name="decide"/>
    /// (which checks the contract's rules, throwing to refuse, and returns the amount, or null to wait for refunds in
    /// flight), then records a pending reservation of that amount and commits. A reservation of the same attempt key
    /// still pending is returned instead (a retry resumes it), and one booked since answers with its refund.
    /// </summary>
    Task<RefundReservation> ReserveRefundAsync(RefundReservationRequest request, Func<TransactionSnapshot, long?> decide,
        CancellationToken ct);

    /// <summary>
    /// Books the acquirer's answer to a pending reservation in one database transaction: a <c>REFUND</c> transaction
    /// (<c>CAPTURED</c> when approved, <c>DECLINED</c> with its code otherwise), the payment's grown
    /// <c>refunded_amount</c> (approved only), both histories, the events, the reservation released, and the current
    /// request's <c>Idempotency-Key</c> answer. When another caller booked the reservation first, returns that booking.
    /// </summary>
    Task<RecordedRefund> BookRefundAsync(PendingRefund pending, RefundDecision decision, CancellationToken ct);

    /// <summary>
    /// Gives a reservation back when its acquirer call certainly sent nothing, ever (the Vault refused this very
    /// first call before the acquirer). Never for a resumed reservation or an unanswered call.
    /// </summary>
    Task ReleaseRefundAsync(PendingRefund pending, CancellationToken ct);

    /// <summary>
    /// Pending reservations created more than <paramref name="olderThan"/> ago and not looked at within
    /// <paramref name="lease"/>, oldest first; each is leased for <paramref name="lease"/> so other Hosts skip it.
    /// </summary>
    Task<IReadOnlyList<PendingRefund>> TakeDueReservationsAsync(TimeSpan olderThan, TimeSpan lease, int limit, CancellationToken ct);

    /// <summary>Kicks the event relay; call after <see cref="BookRefundAsync"/> returned.</summary>
    void PublishPending();
}

/// <param name="MerchantId">The calling merchant.</param>
/// <param name="PaymentTrxId">The payment to refund.</param>
/// <param name="RefundTrxId">The refund's <c>trx_…</c> id, chosen by the caller so the acquirer and the ledger know it alike.</param>
/// <param name="AttemptKey">The acquirer attempt key: the Idempotency-Key's operation key, or <paramref name="RefundTrxId"/>.</param>
/// <param name="Reason">The merchant's reason, kept with the refund.</param>
public sealed record RefundReservationRequest(string MerchantId, string PaymentTrxId, string RefundTrxId, string AttemptKey,
    string? Reason);

/// <summary>What reserving found.</summary>
public enum RefundReservationOutcome
{
    /// <summary>The payment is unknown or another merchant's.</summary>
    NotFound,

    /// <summary>The decision waits on refunds in flight: nothing reserved, try again shortly.</summary>
    Wait,

    /// <summary>A new reservation: <see cref="RefundReservation.Pending"/>.</summary>
    Reserved,

    /// <summary>The attempt key's earlier reservation, still pending: ask the acquirer again with the same key.</summary>
    Resumed,

    /// <summary>The attempt key's reservation was booked already: <see cref="RefundReservation.Booked"/>.</summary>
    Booked,
}

public sealed record RefundReservation(RefundReservationOutcome Outcome, PendingRefund? Pending = null, RecordedRefund? Booked = null);

/// <summary>A reserved refund not yet booked: everything needed to ask the acquirer (again) and book the answer.</summary>
public sealed record PendingRefund(
    string RefundTrxId,
    string MerchantId,
    string PaymentTrxId,
    long Amount,
    string Currency,
    string? Reason,
    string AttemptKey,
    string? CardToken,
    DateTimeOffset CreatedAt);

/// <summary>What the acquirer said about a reserved refund.</summary>
/// <param name="Approved">True when the acquirer accepted it.</param>
/// <param name="DeclineCode">The acquirer's code when refused.</param>
/// <param name="AuthorizationCode">The acquirer's approval code of the refund, shown as its <c>authorization_code</c>.</param>
public sealed record RefundDecision(bool Approved, string? DeclineCode, string? AuthorizationCode = null);

/// <summary>The recorded refund (with history) and its payment after the change.</summary>
public sealed record RecordedRefund(TransactionSnapshot Refund, TransactionSnapshot Payment);
