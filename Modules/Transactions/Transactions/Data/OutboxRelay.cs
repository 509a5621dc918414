using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Observability;
using Payments.Transactions.Contracts;
using Wolverine;
using Wolverine.Runtime;

namespace Payments.Transactions.Data;

/// <summary>
/// Delivers outbox rows through Wolverine, oldest first, at least once, to each subscribing module on its own: each
/// module handles its own <see cref="TransactionEventBatch{THandler}"/> type (ADR 35). A row records which subscribers
/// have it (<c>delivered_to</c>) and is dispatched once all have: a module that fails an event retries it alone, and
/// the others do not run it again. A crash before the marks are written redelivers (handlers are idempotent).
/// A module that fails a merchant's event holds that merchant's later events back from itself only
/// (<c>transactions.outbox_holds</c>): the row goes back at once, and the other modules go on taking the merchant's
/// later rows. Several Host processes may run relays: leasing is serialized by an advisory lock, and a lease never
/// takes a merchant's event while an older one of that merchant is still leased, so each module records a merchant's
/// events in the order they were written even when a Host stops or crashes mid-delivery (webhook sequences follow it).
/// </summary>
internal sealed class OutboxRelay(
    NpgsqlDataSource db,
    IServiceScopeFactory scopes,
    OutboxSignal signal,
    IOptions<TransactionsOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const int BatchSize = 100;

    /// <summary>Serializes leasing across Host processes, so the "older event still leased" check sees every lease.</summary>
    internal const long LeaseLock = 727274032;

    /// <summary>
    /// How long a Host owns the events it took. Delivery stops starting new attempts at half of it, and one attempt
    /// takes at most <see cref="TransactionsOptions.OutboxHandlerTimeout"/> (25 s at most), so a live Host never
    /// delivers after its lease ended. A crashed Host holds back its merchants' later events this long; a module's
    /// retry of an event it failed waits at most this long.
    /// </summary>
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(60);

    private SubscriberSet? subscribers;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // ApplicationStopping fires before any hosted service stops. Waiting for our own stop token would let
        // Wolverine (registered later, so stopped earlier) fail the deliveries in flight first.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        var ct = stopping.Token;
        try
        {
            // Wolverine's hosted service is registered after the modules' and refuses messages until it has started:
            // a relay that leased the rows a crash left pending failed the whole batch (WolverineHasNotStartedException).
            await lifetime.StartedAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        while (!ct.IsCancellationRequested)
        {
            try
            {
                while (await DrainOnceAsync(ct) == BatchSize)
                {
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Outbox relay pass failed; retrying on the next poll");
            }
            try
            {
                if (await signal.WaitAsync(options.Value.OutboxPollInterval, ct) && options.Value.OutboxGatherWindow > TimeSpan.Zero)
                {
                    // Under load, commits arrive every millisecond or so: a pass per kick paid a lease, a commit per
                    // module and a mark for about three events (perf/RESULTS.md).
                    await Task.Delay(options.Value.OutboxGatherWindow, ct);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Delivers one batch of pending events to every subscriber that lacks them; returns how many were taken.</summary>
    internal async Task<int> DrainOnceAsync(CancellationToken ct)
    {
        var taken = await LeaseAsync();
        if (taken.Count == 0)
        {
            return 0;
        }
        // Background work: its own trace, not the one of whatever request kicked the relay.
        Activity.Current = null;
        using var span = GatewayInstruments.Outbox.StartActivity("outbox relay");
        span?.SetTag("payments.outbox.events", taken.Count);
        var started = Stopwatch.GetTimestamp();
        var (subscribers, names) = Subscribers();
        var delivered = new List<(long Id, string Subscriber)>();
        var failed = new List<(Taken Row, string Subscriber)>(); // each holds its merchant back from that subscriber
        Dictionary<long, TransactionEvent> events = [];
        try
        {
            events = Read(taken, subscribers, failed);
            // Subscribers in parallel, each with its own bus: each applies the batch in its own transaction, and none
            // waits on another.
            var outcomes = await Task.WhenAll(subscribers.Select(async s =>
            {
                await using var scope = scopes.CreateAsyncScope();
                return await DeliverAsync(scope.ServiceProvider.GetRequiredService<IMessageBus>(), s, taken, events, started, ct);
            }));
            foreach (var (took, refused) in outcomes)
            {
                delivered.AddRange(took);
                failed.AddRange(refused);
            }
        }
        finally
        {
            // Also when stopping: a call the stop cut short is neither delivered nor failed (InvokeAsync rethrows it).
            await MarkAsync(taken, events, delivered, failed, names);
        }
        return taken.Count;
    }

    private async Task<List<Taken>> LeaseAsync()
    {
        var taken = new List<Taken>();
        var names = Subscribers().Names;
        await using var lease = db.CreateBatch();
        // One implicit transaction: the lock is held until the lease commits, and the UPDATE's snapshot, taken
        // after the lock, sees every earlier lease. Rows a Host is marking or handing back are waited for, not
        // skipped: skipped, an older row whose lease just ended would be overtaken. A row is due when some subscriber
        // lacks it and does not hold its merchant back (a hold covers the failed row and the merchant's later ones
        // until its retry), or when every subscriber has it (it is then only marked); each row comes back with the
        // subscribers that must not take it yet. A row waited for is re-checked alone (READ COMMITTED): a hold its
        // marking pass wrote meanwhile is not seen, so that module retries at once. Only a pass that outlived its lease
        // marks rows another lease could want; order holds either way, and the sweep removes a hold left behind.
        // Committed without waiting for the disk (ADR 35): a lease a crash loses only frees its rows sooner.
        lease.BatchCommands.Add(new NpgsqlBatchCommand(
            $"SELECT pg_advisory_xact_lock({LeaseLock}), set_config('synchronous_commit', 'off', true)"));
        lease.BatchCommands.Add(new NpgsqlBatchCommand("""
            UPDATE transactions.outbox o SET locked_until = statement_timestamp() + $2, attempts = o.attempts + 1
              FROM (SELECT p.id FROM transactions.outbox p
                     WHERE p.dispatched_at IS NULL AND (p.locked_until IS NULL OR p.locked_until < now())
                       AND NOT EXISTS (SELECT 1 FROM transactions.outbox b
                                        WHERE b.merchant_id = p.merchant_id AND b.id < p.id
                                          AND b.dispatched_at IS NULL AND b.locked_until >= now())
                       AND (p.delivered_to @> $3::text[] OR EXISTS (
                            SELECT 1 FROM unnest($3::text[]) s(name)
                             WHERE s.name <> ALL (p.delivered_to)
                               AND NOT EXISTS (SELECT 1 FROM transactions.outbox_holds h
                                                WHERE h.merchant_id = p.merchant_id AND h.subscriber = s.name
                                                  AND h.outbox_id <= p.id AND h.retry_at > now())))
                     ORDER BY p.id LIMIT $1 FOR UPDATE) due
             WHERE o.id = due.id
            RETURNING o.id, o.merchant_id, o.payload::text, o.delivered_to, o.locked_until,
                      ARRAY(SELECT h.subscriber FROM transactions.outbox_holds h
                             WHERE h.merchant_id = o.merchant_id AND h.outbox_id <= o.id AND h.retry_at > now()),
                      EXISTS (SELECT 1 FROM transactions.outbox_holds h WHERE h.merchant_id = o.merchant_id)
            """)
        {
            Parameters = { new() { Value = BatchSize }, new() { Value = Lease }, new() { Value = names } },
        });
        // Not cancelled midway: a lease committed but never read would hold these rows until it ends.
        await using var r = await lease.ExecuteReaderAsync(CancellationToken.None);
        await r.NextResultAsync(CancellationToken.None);
        while (await r.ReadAsync(CancellationToken.None))
        {
            taken.Add(new Taken(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetFieldValue<string[]>(3),
                r.GetFieldValue<DateTime>(4), r.GetFieldValue<string[]>(5), r.GetBoolean(6)));
        }
        taken.Sort((a, b) => a.Id.CompareTo(b.Id));
        return taken;
    }

    /// <summary>
    /// The events by row id. An unreadable row is failed by every subscriber that lacks it and does not already hold
    /// its merchant at an earlier row, and its merchant's later rows wait behind it.
    /// </summary>
    private Dictionary<long, TransactionEvent> Read(List<Taken> taken, Subscriber[] subscribers, List<(Taken, string)> failed)
    {
        var events = new Dictionary<long, TransactionEvent>(taken.Count);
        var unreadable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in taken.Where(t => !unreadable.Contains(t.MerchantId)))
        {
            try
            {
                events[t.Id] = JsonSerializer.Deserialize<TransactionEvent>(t.Payload, PaymentsJson.Options)!;
            }
            catch (JsonException e)
            {
                unreadable.Add(t.MerchantId);
                failed.AddRange(subscribers.Where(s => !t.DeliveredTo.Contains(s.Name) && !t.HeldFrom.Contains(s.Name))
                    .Select(s => (t, s.Name)));
                logger.LogError(e, "Outbox event {Id} is unreadable; its merchant's later events wait behind it", t.Id);
            }
        }
        return events;
    }

    /// <summary>
    /// Hands one subscriber the events it lacks, as one batch; if the batch fails, one by one, a failing event
    /// holding back its merchant's later events for this subscriber only. A batch cut off by the timeout is not retried
    /// one by one (a module too slow for the batch would keep the pass, and every other module's next one, waiting):
    /// each of its merchants is held instead, and so is each merchant left when half the lease is gone. Returns the
    /// rows it took and those it failed (at most one per merchant: the first).
    /// </summary>
    private async Task<(List<(long Id, string Subscriber)> Delivered, List<(Taken Row, string Subscriber)> Failed)> DeliverAsync(
        IMessageBus bus, Subscriber subscriber, List<Taken> taken, Dictionary<long, TransactionEvent> events, long started,
        CancellationToken ct)
    {
        var delivered = new List<(long, string)>();
        var failed = new List<(Taken, string)>();
        var ended = new HashSet<string>(StringComparer.Ordinal); // merchants whose due rows end before this row
        var due = new List<(Taken Row, TransactionEvent Event)>();
        foreach (var t in taken.Where(t => !ended.Contains(t.MerchantId)))
        {
            if (!events.TryGetValue(t.Id, out var evt) || t.HeldFrom.Contains(subscriber.Name))
            {
                // Unreadable or behind an unreadable one (failed in Read), or behind this subscriber's failed event.
                ended.Add(t.MerchantId);
            }
            else if (!t.DeliveredTo.Contains(subscriber.Name))
            {
                due.Add((t, evt));
            }
        }
        if (due.Count == 0)
        {
            return (delivered, failed);
        }
        try
        {
            if (await InvokeAsync(bus, subscriber.Batch(due.Select(e => e.Event).ToList()), ct) is not { } batchFailure)
            {
                delivered.AddRange(due.Select(e => (e.Row.Id, subscriber.Name)));
                return (delivered, failed);
            }
            if (batchFailure is TimeoutException)
            {
                logger.LogWarning(batchFailure, "{Subscriber} did not take a batch of {Count} events in time; holding their merchants for a retry",
                    subscriber.Name, due.Count);
                failed.AddRange(due.DistinctBy(e => e.Row.MerchantId).Select(e => (e.Row, subscriber.Name)));
                return (delivered, failed);
            }
            logger.LogWarning(batchFailure, "{Subscriber} failed a batch of {Count} events; delivering them one by one", subscriber.Name, due.Count);
            // Every due row comes before whatever ended its merchant's run above; here a merchant stops at its first failure.
            var blocked = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (row, evt) in due)
            {
                if (blocked.Contains(evt.MerchantId))
                {
                    continue;
                }
                // Past half the lease, the rest goes back, held, rather than risk delivering after the lease ended.
                if (Stopwatch.GetElapsedTime(started) > Lease / 2)
                {
                    blocked.Add(evt.MerchantId);
                    failed.Add((row, subscriber.Name));
                    continue;
                }
                if (await InvokeAsync(bus, subscriber.Batch([evt]), ct) is { } failure)
                {
                    blocked.Add(evt.MerchantId);
                    failed.Add((row, subscriber.Name));
                    logger.LogWarning(failure, "{Subscriber} failed event {EventId} ({Type})", subscriber.Name, evt.EventId, evt.Type);
                }
                else
                {
                    delivered.Add((row.Id, subscriber.Name));
                }
            }
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // Stopping (a call cut short by the stop, whatever it threw): what this module took is still marked, so it
            // does not run those events again after a restart, and the other modules' results are kept.
        }
        return (delivered, failed);
    }

    /// <summary>
    /// One handler call, at most <see cref="TransactionsOptions.OutboxHandlerTimeout"/> long (Wolverine does not apply
    /// its timeout argument to a local handler; the token reaches the handler's database calls). Null when it
    /// succeeded, a <see cref="TimeoutException"/> when it was cut off, else why it failed. Throws only when
    /// <paramref name="ct"/> is cancelled.
    /// </summary>
    private async Task<Exception?> InvokeAsync(IMessageBus bus, object batch, CancellationToken ct)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attempt.CancelAfter(options.Value.OutboxHandlerTimeout);
        try
        {
            await bus.InvokeAsync(batch, attempt.Token);
            return null;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            return attempt.IsCancellationRequested
                ? new TimeoutException($"The call did not finish within {options.Value.OutboxHandlerTimeout}.", e)
                : e;
        }
    }

    /// <summary>
    /// One round trip for the batch: each row gains the subscribers that took it and is dispatched once every
    /// subscriber has it; the rows not dispatched go back at once. A subscriber that failed a row holds that row's
    /// merchant back from itself until its retry (no sooner than 1, 2, 4 … s after each failure, at most a lease: the
    /// retry comes with the next pass after that); its hold ends once it took the row.
    /// </summary>
    private async Task MarkAsync(List<Taken> taken, Dictionary<long, TransactionEvent> events,
        List<(long Id, string Subscriber)> delivered, List<(Taken Row, string Subscriber)> failed, string[] all)
    {
        // The marks read with the lease are still the rows' own while the lease holds (the updates check it).
        var marks = taken.ToDictionary(t => t.Id, t => new SortedSet<string>(t.DeliveredTo, StringComparer.Ordinal));
        foreach (var (id, subscriber) in delivered)
        {
            marks[id].Add(subscriber);
        }
        var complete = taken.Where(t => marks[t.Id].IsSupersetOf(all)).ToList();
        // One hold per merchant and subscriber, at its earliest failed row: an upsert may not touch a row twice, and
        // an unreadable row (failed in Read) can follow another the same subscriber failed.
        failed = failed.GroupBy(f => (f.Row.MerchantId, f.Subscriber)).Select(g => g.MinBy(f => f.Row.Id)).ToList();
        await using var batch = db.CreateBatch();
        // Committed without waiting for the disk (ADR 35). A crash may lose the marks and holds, never reorder them: the
        // modules' own commits, which they record, waited for the disk before these were written. Lost marks only
        // redeliver, which every module already takes (at least once, idempotent handlers).
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('synchronous_commit', 'off', true)"));
        // Every statement applies only to rows this pass still holds: a lease that ran out (a handler slower than its
        // timeout allows) belongs to whichever Host took the rows next, and its marks are not ours to overwrite. The
        // holds go first, while the rows still carry this pass's lease.
        if (failed.Count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                INSERT INTO transactions.outbox_holds AS h (merchant_id, subscriber, outbox_id, failures, retry_at)
                SELECT o.merchant_id, f.subscriber, o.id, 1, now() + interval '1 second'
                  FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS f(id, subscriber, locked_until)
                  JOIN transactions.outbox o ON o.id = f.id AND o.locked_until = f.locked_until
                ON CONFLICT (merchant_id, subscriber) DO UPDATE
                   SET outbox_id = excluded.outbox_id,
                       failures = CASE WHEN h.outbox_id = excluded.outbox_id THEN h.failures + 1 ELSE 1 END,
                       retry_at = CASE WHEN h.outbox_id = excluded.outbox_id
                                       THEN now() + least($4, make_interval(secs => power(2, least(h.failures, 10))))
                                       ELSE excluded.retry_at END
                """)
            {
                Parameters =
                {
                    new() { Value = failed.Select(f => f.Row.Id).ToArray() }, new() { Value = failed.Select(f => f.Subscriber).ToArray() },
                    new() { Value = failed.Select(f => f.Row.LockedUntil).ToArray() }, new() { Value = Lease },
                },
            });
        }
        // A subscriber that took a held merchant's rows without failing one has passed its failed row: the hold ends.
        var held = taken.Where(t => t.AnyHold).ToDictionary(t => t.Id);
        var passed = held.Count == 0 ? [] : delivered
            .Where(d => held.ContainsKey(d.Id))
            .Select(d => (Row: held[d.Id], d.Subscriber))
            .Where(d => !failed.Any(f => f.Subscriber == d.Subscriber && f.Row.MerchantId == d.Row.MerchantId))
            .GroupBy(d => (d.Row.MerchantId, d.Subscriber), d => d.Row)
            .Select(g => (g.Key.Subscriber, Last: g.MaxBy(r => r.Id)!))
            .ToList();
        if (passed.Count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                DELETE FROM transactions.outbox_holds h
                 USING unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS d(id, subscriber, locked_until),
                       transactions.outbox o
                 WHERE o.id = d.id AND o.locked_until = d.locked_until
                   AND h.merchant_id = o.merchant_id AND h.subscriber = d.subscriber AND h.outbox_id <= d.id
                """)
            {
                Parameters =
                {
                    new() { Value = passed.Select(p => p.Last.Id).ToArray() }, new() { Value = passed.Select(p => p.Subscriber).ToArray() },
                    new() { Value = passed.Select(p => p.Last.LockedUntil).ToArray() },
                },
            });
        }
        // The usual pass: every subscriber took every row, one statement.
        batch.BatchCommands.Add(new NpgsqlBatchCommand("""
            UPDATE transactions.outbox o SET delivered_to = $2, dispatched_at = now(), locked_until = NULL
              FROM unnest($1::bigint[], $3::timestamptz[]) AS t(id, locked_until)
             WHERE o.id = t.id AND o.locked_until = t.locked_until
            """)
        {
            Parameters =
            {
                new() { Value = complete.Select(t => t.Id).ToArray() }, new() { Value = all },
                new() { Value = complete.Select(t => t.LockedUntil).ToArray() },
            },
        });
        foreach (var t in taken.Where(t => !marks[t.Id].IsSupersetOf(all)))
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand("""
                UPDATE transactions.outbox SET delivered_to = $2, locked_until = NULL WHERE id = $1 AND locked_until = $3
                """)
            {
                Parameters = { new() { Value = t.Id }, new() { Value = marks[t.Id].ToArray() }, new() { Value = t.LockedUntil } },
            });
        }
        // Counted once every module has them, before the mark: at least once, like the delivery.
        foreach (var t in complete)
        {
            // A row not read (unreadable, or behind one) is complete only when nothing subscribes: nothing to count.
            if (events.TryGetValue(t.Id, out var evt))
            {
                OutboxMetrics.Count(evt);
            }
        }
        await batch.ExecuteNonQueryAsync(CancellationToken.None);
    }

    /// <summary>
    /// The modules that take transaction events: one per <see cref="TransactionEventBatch{THandler}"/> type among
    /// Wolverine's handlers, named by the handler type's full name (renaming it redelivers the pending rows once).
    /// </summary>
    private SubscriberSet Subscribers()
    {
        if (subscribers is null)
        {
            using var scope = scopes.CreateScope();
            // The handler graph is public on the runtime's class only. It does not change once the Host has started.
            var all = ((WolverineRuntime)scope.ServiceProvider.GetRequiredService<IWolverineRuntime>()).Handlers.Chains
                .Select(c => c.MessageType)
                .Where(t => t.IsGenericType && t.GetGenericTypeDefinition() == typeof(TransactionEventBatch<>))
                .Select(t => new Subscriber(t.GetGenericArguments()[0].FullName!, t))
                .OrderBy(s => s.Name, StringComparer.Ordinal)
                .ToArray();
            // One reference, so a pass on another thread sees both or neither.
            subscribers = new SubscriberSet(all, all.Select(s => s.Name).ToArray());
        }
        return subscribers;
    }

    /// <summary>
    /// A leased row; <see cref="LockedUntil"/> is the lease this pass holds it by. <see cref="HeldFrom"/>: the
    /// subscribers whose hold on the merchant covers this row; <see cref="AnyHold"/>: the merchant has a hold, due or not.
    /// </summary>
    private sealed record Taken(long Id, string MerchantId, string Payload, string[] DeliveredTo, DateTime LockedUntil,
        string[] HeldFrom, bool AnyHold);

    /// <summary>The subscribers, and their names for the lease and the marks.</summary>
    private sealed record SubscriberSet(Subscriber[] All, string[] Names);

    private sealed record Subscriber(string Name, Type MessageType)
    {
        public object Batch(IReadOnlyList<TransactionEvent> events) => Activator.CreateInstance(MessageType, [events])!;
    }
}
