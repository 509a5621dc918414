namespace Payments.Transactions.Contracts;

/// <summary>
/// Something happened to a transaction. Written to the Transactions outbox in the same database transaction as
/// the change, then delivered through Wolverine in <see cref="TransactionEventBatch{THandler}"/>es (local, at least once, oldest
/// first): a handler must be idempotent (the <see cref="EventId"/> is stable across redeliveries) and public.
/// </summary>
/// <param name="EventId">Unique per event (<c>evt_…</c>), the same on every delivery.</param>
/// <param name="Type">One of <see cref="TransactionEventTypes"/>.</param>
/// <param name="MerchantId">The merchant the transaction belongs to.</param>
/// <param name="OccurredAt">When the change committed (the history entry's time).</param>
/// <param name="Transaction">The object's state right after the change (without history).</param>
public sealed record TransactionEvent(
    string EventId,
    string Type,
    string MerchantId,
    DateTimeOffset OccurredAt,
    TransactionSnapshot Transaction);

/// <summary>
/// Event types. Payments: authorized, declined, captured, voided, expired, settled (one per operation;
/// an authcap gives authorized then captured). Refunds: <c>refund.created</c> (accepted or declined: read its
/// status), <c>transaction.settled</c> when settled. Chargebacks: <c>chargeback.created</c> with the
/// <c>CHARGEBACK</c> transaction. Every change to a payment caused by a refund or chargeback also gives
/// <c>transaction.refunded</c> / <c>transaction.charged_back</c> with the payment's new state.
/// </summary>
public static class TransactionEventTypes
{
    public const string Authorized = "transaction.authorized";
    public const string Declined = "transaction.declined";
    public const string Captured = "transaction.captured";
    public const string Voided = "transaction.voided";
    public const string Expired = "transaction.expired";
    public const string Settled = "transaction.settled";
    public const string Refunded = "transaction.refunded";
    public const string ChargedBack = "transaction.charged_back";
    public const string RefundCreated = "refund.created";
    public const string ChargebackCreated = "chargeback.created";
}

/// <summary>
/// Consecutive outbox events for one subscribing module, oldest first, so it can apply them in one database transaction
/// (one commit per batch instead of one per event). Each module handles its own closed type, named by its handler
/// (<c>TransactionEventBatch&lt;TransactionEventHandler&gt;</c>): the relay finds the subscribers among Wolverine's
/// handlers and hands each its own batches (ADR 35), so one module failing never makes another run the events again.
/// At least once, so handlers stay idempotent; a module that fails a batch gets its events again one by one.
/// </summary>
/// <typeparam name="THandler">The subscribing handler type; its full name is the subscriber's name in the outbox.</typeparam>
/// <param name="Events">The events, oldest first.</param>
public sealed record TransactionEventBatch<THandler>(IReadOnlyList<TransactionEvent> Events)
    where THandler : class;
