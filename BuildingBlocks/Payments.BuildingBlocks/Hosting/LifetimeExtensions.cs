using Microsoft.Extensions.Hosting;

namespace Payments.BuildingBlocks.Hosting;

public static class LifetimeExtensions
{
    /// <summary>
    /// Completes once every hosted service has started (at once if they have). Background work that needs another
    /// hosted service running (Wolverine's bus, the migrations) waits for this rather than for its own start.
    /// </summary>
    public static async Task StartedAsync(this IHostApplicationLifetime lifetime, CancellationToken ct)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(ct);
    }
}
