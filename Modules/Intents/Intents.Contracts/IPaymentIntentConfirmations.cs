namespace Payments.Intents.Contracts;

/// <summary>
/// A payment intent's confirmations, for the Transactions module: one at a time per intent, and never alongside a
/// cancel. <see cref="StartAsync"/> marks the intent as being confirmed by a transaction id before the acquirer is
/// called, so a cancel (or another confirmation) that comes meanwhile is refused instead of answering <c>CANCELED</c>
/// while the card is charged; <see cref="FinishAsync"/> records the outcome at once (the module's event handler records
/// it too, later, should this call fail). A mark a crashed Host left lapses after the lease.
/// </summary>
public interface IPaymentIntentConfirmations
{
    /// <param name="cardToken">The card the confirmation brings, if any; the intent shows it once the payment succeeds.</param>
    /// <param name="lease">How long the mark holds: longer than any request can run.</param>
    Task<IntentConfirmation> StartAsync(string merchantId, string intentId, string trxId, string? cardToken, TimeSpan lease,
        CancellationToken ct);

    /// <summary>
    /// Ends the confirmation <paramref name="trxId"/> started: with the payment it booked (the intent succeeds, or goes
    /// back for a payment method when declined), or with null when it booked none (the intent is as before). Never
    /// throws for a database fault: a mark it could not end lapses with its lease, and a booked outcome still reaches the
    /// intent through the payment's event.
    /// </summary>
    Task FinishAsync(string merchantId, string intentId, string trxId, ConfirmedPayment? booked, CancellationToken ct);
}

/// <summary>What a confirmation's start found.</summary>
public sealed record IntentConfirmation(IntentConfirmationStart Start, PaymentIntentSnapshot? Intent);

public enum IntentConfirmationStart
{
    /// <summary>The intent is marked as being confirmed by the caller; <see cref="IntentConfirmation.Intent"/> is as it was.</summary>
    Started,

    /// <summary>Unknown, or another merchant's.</summary>
    NotFound,

    /// <summary><c>SUCCEEDED</c> or <c>CANCELED</c>.</summary>
    Final,

    /// <summary>Another confirmation, or a cancel, of this intent is under way.</summary>
    Busy,
}

/// <summary>The payment a confirmation booked: approved, or declined with its code.</summary>
public sealed record ConfirmedPayment(string TrxId, bool Declined, string? DeclineCode);

/// <summary>What a confirmation needs of a payment intent.</summary>
public sealed record PaymentIntentSnapshot(
    string Id,
    string Status,
    long Amount,
    string Currency,
    string OrderId,
    string? ExternalId,
    string? CardToken);

/// <summary>The <c>status</c> values of a payment intent.</summary>
public static class PaymentIntentStatuses
{
    public const string RequiresPaymentMethod = "REQUIRES_PAYMENT_METHOD";
    public const string RequiresConfirmation = "REQUIRES_CONFIRMATION";
    public const string Succeeded = "SUCCEEDED";
    public const string Canceled = "CANCELED";
}
