using System.Diagnostics;
using OpenTelemetry;

namespace Payments.TestKit;

/// <summary>
/// Wakes tests waiting for a span: added after the in-memory exporter, it is told of every span that ended, so a test
/// awaits the span it needs instead of polling for it.
/// </summary>
public sealed class SpanRecorder : BaseProcessor<Activity>
{
    private readonly Lock gate = new();
    private readonly List<Activity> ended = [];
    private readonly List<(Func<Activity, bool> Match, TaskCompletionSource<Activity> Done)> waiters = [];

    /// <summary>Every span that ended so far (a copy).</summary>
    public IReadOnlyList<Activity> Spans
    {
        get
        {
            lock (gate)
            {
                return [.. ended];
            }
        }
    }

    public override void OnEnd(Activity data)
    {
        lock (gate)
        {
            ended.Add(data);
            foreach (var w in waiters.Where(w => w.Match(data)).ToList())
            {
                waiters.Remove(w);
                w.Done.TrySetResult(data);
            }
        }
    }

    /// <summary>The first span (ended already or later) that matches, within <paramref name="timeout"/>.</summary>
    public Task<Activity> WaitForAsync(Func<Activity, bool> match, TimeSpan timeout)
    {
        lock (gate)
        {
            if (ended.FirstOrDefault(match) is { } done)
            {
                return Task.FromResult(done);
            }
            var tcs = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
            waiters.Add((match, tcs));
            return tcs.Task.WaitAsync(timeout);
        }
    }
}
