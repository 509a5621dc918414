using Payments.BuildingBlocks.Data;

namespace Payments.Transactions.Data;

/// <summary>
/// The creation times this process gave to transactions it has not committed yet, per merchant, so that a list's
/// <c>as_of</c> never falls after one of them (docs/adr/0039). A row's <c>created_at</c> is stamped before its commit;
/// without this, a payment stamped just before page 1 was read but committed just after would show up on page 2 under
/// page 1's <c>as_of</c>, and the pages would shift, against the contract.
/// </summary>
/// <remarks>
/// Stamping and reading the horizon share one lock, so every time stamped before a horizon is read is seen by it.
/// It covers the rows this process writes: with several Hosts, a row another Host stamped before page 1 and committed
/// after it can still appear on a later page (ADR 39 says why the database cannot see it either).
/// </remarks>
internal sealed class PendingCreations(TimeProvider clock)
{
    private readonly Lock gate = new();
    private readonly Dictionary<long, (string MerchantId, DateTimeOffset At)> pending = [];
    private long next;

    /// <summary>A creation time for a row of <paramref name="merchantId"/>; dispose the handle once its commit ended.</summary>
    public Creation Stamp(string merchantId)
    {
        lock (gate)
        {
            var at = clock.UtcNowMicros();
            var id = ++next;
            pending.Add(id, (merchantId, at));
            return new Creation(this, id, at);
        }
    }

    /// <summary>
    /// The latest <c>as_of</c> a first page of <paramref name="merchantId"/>'s list may take now: now, or just before
    /// the oldest of its rows still being committed.
    /// </summary>
    public DateTimeOffset Horizon(string merchantId)
    {
        lock (gate)
        {
            var horizon = clock.UtcNowMicros();
            foreach (var (merchant, at) in pending.Values)
            {
                if (at <= horizon && string.Equals(merchant, merchantId, StringComparison.Ordinal))
                {
                    horizon = at.AddTicks(-TimeSpan.TicksPerMicrosecond);
                }
            }
            return horizon;
        }
    }

    private void End(long id)
    {
        lock (gate)
        {
            pending.Remove(id);
        }
    }

    /// <summary>A stamped creation time, pending until disposed.</summary>
    public sealed class Creation(PendingCreations owner, long id, DateTimeOffset at) : IDisposable
    {
        public DateTimeOffset At { get; } = at;

        public void Dispose() => owner.End(id);
    }
}
