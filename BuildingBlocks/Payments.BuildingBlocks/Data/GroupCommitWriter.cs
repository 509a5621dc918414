using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Payments.BuildingBlocks.Observability;

namespace Payments.BuildingBlocks.Data;

/// <summary>How a <see cref="GroupCommitWriter{TItem, TResult}"/> groups.</summary>
/// <param name="Max">The most items one commit carries; 1 writes each alone.</param>
/// <param name="InFlight">
/// Groups committing at once, at most. While fewer are in flight an item is written at once; once that many are, the
/// items that arrive queue and form the next group. A stalled group holds one of them only.
/// </param>
public sealed record GroupCommitSettings(int Max, int InFlight);

/// <summary>
/// Thrown by a group write whose commit may or may not have happened (its connection broke) and whose items must not
/// be written again: every caller of the group gets <see cref="Exception.InnerException"/>, as a lone write would have.
/// </summary>
public sealed class GroupOutcomeUnknownException(Exception inner)
    : Exception("A group's commit was sent but its outcome is unknown.", inner);

/// <summary>
/// A cross-request group commit (issue 17 How 3, docs/adr/0036): one writer per process keeps up to
/// <see cref="GroupCommitSettings.InFlight"/> commits running; the items that arrive while all of them run queue, and
/// the next free commit takes them all (up to <see cref="GroupCommitSettings.Max"/>) in one transaction, so
/// PostgreSQL's per-statement and per-commit work is paid once per group. Nothing is held back on purpose: under light
/// load each item is written at once, alone. Each caller gets its answer only after its group committed.
/// </summary>
/// <remarks>
/// A group that fails is written again item by item (<see cref="WriteAloneAsync"/> with <c>afterFailedGroup</c>), so
/// one item's refusal is its own. When the group's outcome is unknown the subclass either recognises what the group
/// committed when it writes an item again, or finds out the outcome itself, or throws
/// <see cref="GroupOutcomeUnknownException"/>: an item the group did commit is never written twice.
/// </remarks>
public abstract class GroupCommitWriter<TItem, TResult> : IAsyncDisposable
    where TResult : class
{
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(); // multi-reader: it can count
    private readonly Lock startLock = new();
    private readonly string name;
    private readonly ILogger logger;
    private Task? loop;

    /// <param name="name">The writer's name in the <c>group_commit.size</c> histogram and its spans.</param>
    protected GroupCommitWriter(string name, ILogger logger)
    {
        this.name = name;
        this.logger = logger;
    }

    /// <summary>Items waiting for their group to start.</summary>
    public int Queued => queue.Reader.Count;

    protected abstract GroupCommitSettings Settings { get; }

    /// <summary>
    /// Writes <paramref name="group"/> in one transaction and returns each item's result, or null for an item the group
    /// left out (it is then written alone, after the group). Throws when nothing of the group may be taken as written.
    /// </summary>
    protected abstract Task<TResult?[]> WriteGroupAsync(IReadOnlyList<TItem> group);

    /// <summary>Writes one item in a transaction of its own. <paramref name="afterFailedGroup"/>: its group failed first.</summary>
    protected abstract Task<TResult> WriteAloneAsync(TItem item, bool afterFailedGroup);

    public Task<TResult> WriteAsync(TItem item)
    {
        if (Settings.Max <= 1)
        {
            return Counted(WriteAloneAsync(item, afterFailedGroup: false));
        }
        EnsureLoop();
        var pending = new Pending(item, Activity.Current?.Context ?? default,
            new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        ObjectDisposedException.ThrowIf(!queue.Writer.TryWrite(pending), this);
        return pending.Done.Task;
    }

    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        queue.Writer.TryComplete();
        if (loop is not null)
        {
            try
            {
                await loop.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                logger.LogWarning("The {Writer} writer did not finish within 10 s of shutdown", name);
            }
        }
    }

    private async Task<TResult> Counted(Task<TResult> alone)
    {
        var result = await alone;
        GatewayInstruments.GroupCommitSize.Record(1, new KeyValuePair<string, object?>("writer", name));
        return result;
    }

    private void EnsureLoop()
    {
        if (loop is null)
        {
            lock (startLock)
            {
                // Not in the trace of the request that happened to start it: each group has its own span.
                using (ExecutionContext.SuppressFlow())
                {
                    loop ??= Task.Run(WriteLoopAsync);
                }
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var inFlight = Math.Max(1, Settings.InFlight);
        using var slots = new SemaphoreSlim(inFlight);
        while (await queue.Reader.WaitToReadAsync())
        {
            await slots.WaitAsync();
            var max = Settings.Max;
            var group = new List<Pending>();
            while (group.Count < max && queue.Reader.TryRead(out var p))
            {
                group.Add(p);
            }
            _ = WriteAndReleaseAsync(group, slots);
        }
        for (var i = 0; i < inFlight; i++)
        {
            await slots.WaitAsync();
        }
    }

    private async Task WriteAndReleaseAsync(List<Pending> group, SemaphoreSlim slots)
    {
        try
        {
            if (group.Count == 1)
            {
                await AloneAsync(group[0], afterFailedGroup: false);
                return;
            }
            TResult?[] results;
            try
            {
                using (StartSpan(group))
                {
                    results = await WriteGroupAsync([.. group.Select(p => p.Item)]);
                }
            }
#pragma warning disable CA1031 // the writer must outlive any failure, or every later item would wait
            catch (GroupOutcomeUnknownException e)
            {
                logger.LogError("A group of {Count} in the {Writer} writer may or may not have committed ({Error})",
                    group.Count, name, e.InnerException?.GetType().Name);
                group.ForEach(p => p.Done.TrySetException(e.InnerException ?? e));
                return;
            }
            catch (Exception e)
#pragma warning restore CA1031
            {
                logger.LogInformation("A group of {Count} in the {Writer} writer failed ({Error}); writing each alone",
                    group.Count, name, e.GetType().Name);
                foreach (var p in group)
                {
                    await AloneAsync(p, afterFailedGroup: true);
                }
                return;
            }
            if (results.Count(r => r is not null) is > 0 and var written)
            {
                GatewayInstruments.GroupCommitSize.Record(written, new KeyValuePair<string, object?>("writer", name));
            }
            for (var i = 0; i < group.Count; i++)
            {
                if (results[i] is { } result)
                {
                    group[i].Done.TrySetResult(result);
                }
            }
            // Left out of the group (a refusal, say): each alone, in the order they came.
            for (var i = 0; i < group.Count; i++)
            {
                if (results[i] is null)
                {
                    await AloneAsync(group[i], afterFailedGroup: false);
                }
            }
        }
        finally
        {
            slots.Release();
        }
    }

    private async Task AloneAsync(Pending p, bool afterFailedGroup)
    {
        try
        {
            p.Done.TrySetResult(await Counted(WriteAloneAsync(p.Item, afterFailedGroup)));
        }
#pragma warning disable CA1031 // the caller gets its own failure; the writer goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            p.Done.TrySetException(e);
        }
    }

    private Activity? StartSpan(List<Pending> group) =>
        GatewayInstruments.Transactions.HasListeners()
            ? GatewayInstruments.Transactions.StartActivity(ActivityKind.Internal, parentContext: default,
                links: [.. group.Where(p => p.Caller != default).Select(p => new ActivityLink(p.Caller))], name: "group commit")?
                .SetTag("payments.writer", name).SetTag("payments.group.size", group.Count)
            : null;

    private sealed record Pending(TItem Item, ActivityContext Caller, TaskCompletionSource<TResult> Done);
}
