namespace Payments.Refunds.Concurrency;

/// <summary>
/// Queues this process's refund reservations of one payment in memory, one at a time. Correctness does not depend on it: the
/// ledger's reservations keep concurrent refunds within what is refundable on every Host (docs/adr/0082). Queuing here
/// keeps a burst on one payment from parking a pooled connection per request on the payment's (brief) row lock, and
/// from polling the database while refunds in flight are answered.
/// </summary>
internal sealed class PaymentQueue
{
    private readonly Dictionary<string, Entry> entries = new(StringComparer.Ordinal);

    /// <summary>Waits for the turn on <paramref name="key"/>; dispose the result to hand it on.</summary>
    public async Task<IDisposable> EnterAsync(string key, CancellationToken ct)
    {
        Entry entry;
        lock (entries)
        {
            if (!entries.TryGetValue(key, out entry!))
            {
                entry = new Entry();
                entries[key] = entry;
            }
            entry.Users++;
        }
        try
        {
            await entry.Gate.WaitAsync(ct);
        }
        catch
        {
            Leave(key, entry, release: false);
            throw;
        }
        return new Turn(this, key, entry);
    }

    private void Leave(string key, Entry entry, bool release)
    {
        if (release)
        {
            entry.Gate.Release();
        }
        lock (entries)
        {
            if (--entry.Users == 0)
            {
                entries.Remove(key);
                entry.Gate.Dispose();
            }
        }
    }

    private sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public int Users { get; set; }
    }

    private sealed class Turn(PaymentQueue queue, string key, Entry entry) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                queue.Leave(key, entry, release: true);
            }
        }
    }
}
