using Microsoft.AspNetCore.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Ledger;

/// <summary>The Refunds module's way to record refunds; the invariant and the locking live in <see cref="TransactionStore"/>.</summary>
internal sealed class RefundLedger(TransactionStore store, OutboxSignal outbox, IHttpContextAccessor http) : IRefundLedger
{
    public Task<RecordedRefund?> RecordRefundAsync(string merchantId, string paymentTrxId,
        Func<TransactionSnapshot, CancellationToken, Task<RefundDecision>> decide, CancellationToken ct) =>
        store.RecordRefundAsync(merchantId, paymentTrxId, decide, http.HttpContext?.IdempotencyClaim(), ct);

    public void PublishPending() => outbox.Kick();
}
