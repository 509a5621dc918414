using System.Collections.Concurrent;

namespace Payments.Perf.Api;

internal enum AckKind
{
    Authorize,
    Authcap,
    Capture,
    Void,
    Refund,
}

/// <summary>
/// One operation the gateway acknowledged with 2xx. <see cref="Amount"/> is -1 when the call named none (all that remains).
/// <see cref="RefundId"/> is the new REFUND transaction's id.
/// </summary>
internal sealed record Ack(string MerchantId, string TrxId, AckKind Kind, long Amount, string? Status, string? RefundId = null);

internal sealed class AckLog
{
    private readonly ConcurrentQueue<Ack> acks = new();

    public void Add(Ack ack) => acks.Enqueue(ack);

    public IReadOnlyList<Ack> All => acks.ToArray();

    public int Count => acks.Count;
}
