using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.RateLimiting;

namespace Payments.IntegrationTests.Limits;

/// <summary>
/// The admission gate's wait: a burst on a gateway that refused nothing lately waits for a place and is served; once a
/// write was refused, the queue is standing and a write waits only a moment, so refusals stay immediate.
/// </summary>
public sealed class AdmissionGateTests
{
    private static AdmissionGate Gate(TimeSpan overloadWindow) => new(Options.Create(new AdmissionOptions
    {
        MaxConcurrent = 1,
        QueueLimit = 2,
        QueueTimeout = TimeSpan.FromSeconds(30),
        OverloadQueueTimeout = TimeSpan.FromMilliseconds(1),
        OverloadWindow = overloadWindow,
    }));

    [Fact]
    public async Task A_burst_waits_for_a_place_and_is_served_rather_than_refused()
    {
        using var gate = Gate(TimeSpan.FromMinutes(1));
        Assert.True(await gate.TryEnterAsync(CancellationToken.None));

        var second = gate.TryEnterAsync(CancellationToken.None).AsTask();
        // Far past the overload wait: it is still waiting, not refused.
        await Task.Delay(200);
        Assert.False(second.IsCompleted);
        gate.Leave();

        Assert.True(await second.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(gate.Overloaded);
    }

    [Fact]
    public async Task After_a_refusal_a_write_waits_only_the_overload_wait_and_later_the_long_one_again()
    {
        // Wide enough that a loaded machine does not outlast it between the refusal and the next write.
        using var gate = Gate(TimeSpan.FromSeconds(3));
        Assert.True(await gate.TryEnterAsync(CancellationToken.None));
        var queued = new[] { gate.TryEnterAsync(CancellationToken.None).AsTask(), gate.TryEnterAsync(CancellationToken.None).AsTask() };

        // The queue is full: refused at once, and the gate counts as overloaded.
        Assert.False(await gate.TryEnterAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(gate.Overloaded);

        // A write joining the queue now is refused after the overload wait, not the 30 s burst wait.
        gate.Leave();
        Assert.True(await queued[0].WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(await gate.TryEnterAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        // Past the window with no refusal, a write waits for a place again.
        await Task.Delay(TimeSpan.FromSeconds(3.5));
        Assert.False(gate.Overloaded);
        var late = gate.TryEnterAsync(CancellationToken.None).AsTask();
        await Task.Delay(100);
        Assert.False(late.IsCompleted);
        gate.Leave();
        Assert.True(await queued[1].WaitAsync(TimeSpan.FromSeconds(10)));
        gate.Leave();
        Assert.True(await late.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Once_overloaded_only_the_overload_queue_may_wait()
    {
        using var gate = new AdmissionGate(Options.Create(new AdmissionOptions
        {
            MaxConcurrent = 1,
            QueueLimit = 10,
            QueueTimeout = TimeSpan.FromSeconds(30),
            OverloadQueueLimit = 1,
            OverloadQueueTimeout = TimeSpan.FromSeconds(30),
            OverloadWindow = TimeSpan.FromMinutes(1),
        }));
        Assert.True(await gate.TryEnterAsync(CancellationToken.None));
        var burst = Enumerable.Range(0, 10).Select(_ => gate.TryEnterAsync(CancellationToken.None).AsTask()).ToList();
        // The eleventh write finds the burst queue full: refused, and the gate is overloaded from now on.
        Assert.False(await gate.TryEnterAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(gate.Overloaded);

        // Ten are waiting, more than the overload queue holds: the next write is refused at once, not queued.
        Assert.False(await gate.TryEnterAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.All(burst, t => Assert.False(t.IsCompleted));
        for (var i = 0; i <= burst.Count; i++)
        {
            gate.Leave();
        }
        Assert.All(await Task.WhenAll(burst), Assert.True);
    }
}
