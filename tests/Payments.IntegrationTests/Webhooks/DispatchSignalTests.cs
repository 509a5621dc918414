using System.Runtime.ExceptionServices;
using Payments.Webhooks.Recording;

namespace Payments.IntegrationTests.Webhooks;

/// <summary>
/// Each recorded batch kicks the webhook dispatcher. A kick while a wake-up is already pending must cost nothing: the
/// dispatcher released a full semaphore and caught the exception, twice in a 20-second pair phase of the load suite.
/// </summary>
public sealed class DispatchSignalTests(WebhooksFixture gateway) : IClassFixture<WebhooksFixture>
{
    // Set on the kicking threads: a kick raises the dispatcher's wake-up synchronously, on the thread that kicked.
    private static readonly AsyncLocal<bool> Kicking = new();

    [Fact]
    public async Task Kicks_while_a_wake_up_is_pending_throw_nothing()
    {
        // The Host, and so its dispatcher, is running.
        Assert.NotNull(gateway.HostServices);
        var thrown = 0;
        void Count(object? sender, FirstChanceExceptionEventArgs e)
        {
            // Process-wide: another class's Vault may throw and catch its own; only one thrown under a kick counts.
            if (e.Exception is SemaphoreFullException && Kicking.Value)
            {
                Interlocked.Increment(ref thrown);
            }
        }
        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            {
                Kicking.Value = true;
                for (var i = 0; i < 2_000; i++)
                {
                    DispatchSignal.Kick();
                }
            })));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }
        Assert.Equal(0, thrown);
    }
}
