using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Ledger;

/// <summary>The Refunds module's way to record refunds; the invariants live in <see cref="TransactionStore"/> and the schema.</summary>
internal sealed class RefundLedger(TransactionStore store, OutboxSignal outbox, IHttpContextAccessor http,
    IOptions<IdempotencyOptions> idempotency) : IRefundLedger
{
    // A reservation answers retries of its key as long as the key itself is kept; after that the key is new again.
    public Task<RefundReservation> ReserveRefundAsync(RefundReservationRequest request, Func<TransactionSnapshot, long?> decide,
        CancellationToken ct) =>
        store.ReserveRefundAsync(request, decide, idempotency.Value.Retention, ct);

    // No HttpContext for the recovery sweep: no idempotency answer to write.
    public Task<RecordedRefund> BookRefundAsync(PendingRefund pending, RefundDecision decision, CancellationToken ct) =>
        store.BookRefundAsync(pending, decision, http.HttpContext?.IdempotencyClaim(), ct);

    public Task ReleaseRefundAsync(PendingRefund pending, CancellationToken ct) => store.ReleaseRefundAsync(pending, ct);

    public Task<IReadOnlyList<PendingRefund>> TakeDueReservationsAsync(TimeSpan olderThan, TimeSpan lease, int limit, CancellationToken ct) =>
        store.TakeDueReservationsAsync(olderThan, lease, limit, ct);

    public void PublishPending() => outbox.Kick();
}
