namespace Payments.BuildingBlocks.Hosting;

/// <summary>
/// Wakes a background loop before its poll interval ends. Any number of kicks while a wake-up is pending make one
/// wake-up, and a kick never throws: releasing a full semaphore and catching the exception cost exceptions on hot
/// paths (the load suite counts them, perf/RESULTS.md).
/// </summary>
public sealed class WakeSignal : IDisposable
{
    private readonly SemaphoreSlim signal = new(0, 1);

    /// <summary>1 while a wake-up is pending: only the kick that sets it releases, so the semaphore is never over-released.</summary>
    private int kicked;

    public void Kick()
    {
        if (Interlocked.Exchange(ref kicked, 1) == 1)
        {
            return;
        }
        try
        {
            signal.Release();
        }
        catch (ObjectDisposedException)
        {
            // The process is stopping.
        }
    }

    /// <summary>True when kicked, false when the timeout passed. A kick after this returns wakes the next wait.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        var woken = await signal.WaitAsync(timeout, ct);
        if (woken)
        {
            // Before the caller's pass: a kick from here on wakes the next wait, and one before is seen by this pass.
            Volatile.Write(ref kicked, 0);
        }
        return woken;
    }

    public void Dispose() => signal.Dispose();
}
