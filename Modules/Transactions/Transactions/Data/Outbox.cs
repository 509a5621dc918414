using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Ids;
using Payments.BuildingBlocks.Observability;
using Payments.Transactions.Contracts;
using Wolverine;

namespace Payments.Transactions.Data;

/// <summary>Writes events into the outbox inside the caller's transaction.</summary>
internal static class OutboxWriter
{
    public static NpgsqlBatchCommand Command(string type, string merchantId, DateTimeOffset at, TransactionSnapshot state)
    {
        var evt = new TransactionEvent(PrefixedId.New("evt"), type, merchantId, at, state with { History = null });
        var cmd = new NpgsqlBatchCommand(
            "INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)");
        cmd.Parameters.Add(new() { Value = evt.EventId });
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = type });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(evt, PaymentsJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = at });
        return cmd;
    }
}

/// <summary>Wakes the relay right after a commit, so readers see the effect within milliseconds, not a poll later.</summary>
internal sealed class OutboxSignal : IDisposable
{
    private readonly SemaphoreSlim signal = new(0, 1);

    public void Kick()
    {
        // Already kicked: one wake-up drains everything. The check spares an exception per commit under load;
        // the race it leaves ends in the same catch.
        if (signal.CurrentCount > 0)
        {
            return;
        }
        try
        {
            signal.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => signal.WaitAsync(timeout, ct);

    public void Dispose() => signal.Dispose();
}

/// <summary>
/// Delivers outbox rows through Wolverine, oldest first, at least once: a row is marked dispatched only after its
/// handlers completed, so a crash in between redelivers it (handlers are idempotent). Several Host processes may run
/// relays: leasing is serialized by an advisory lock, and a lease never takes a merchant's event while an older one of
/// that merchant is still leased, so a merchant's events are recorded in the order they were written even when a Host
/// stops or crashes mid-delivery (the webhook sequence is assigned when they are recorded).
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
    private const long LeaseLock = 727274032;

    /// <summary>
    /// How long a Host owns the events it took. Delivery stops starting new attempts at half of it, and one attempt
    /// takes at most <see cref="InvokeTimeout"/>, so a live Host never delivers after its lease ended. A crashed Host
    /// holds back its merchants' later events this long.
    /// </summary>
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan InvokeTimeout = TimeSpan.FromSeconds(20);

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
                await signal.WaitAsync(options.Value.OutboxPollInterval, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Delivers one batch of pending events; returns how many were taken.</summary>
    internal async Task<int> DrainOnceAsync(CancellationToken ct)
    {
        var taken = new List<(long Id, string MerchantId, string Payload)>();
        await using (var lease = db.CreateBatch())
        {
            // One implicit transaction: the lock is held until the lease commits, and the UPDATE's snapshot, taken
            // after the lock, sees every earlier lease. Rows a Host is marking or handing back are waited for, not
            // skipped: skipped, an older row whose lease just ended would be overtaken.
            lease.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_advisory_xact_lock({LeaseLock})"));
            lease.BatchCommands.Add(new NpgsqlBatchCommand("""
                UPDATE transactions.outbox o SET locked_until = now() + $2, attempts = o.attempts + 1
                  FROM (SELECT p.id FROM transactions.outbox p
                         WHERE p.dispatched_at IS NULL AND (p.locked_until IS NULL OR p.locked_until < now())
                           AND NOT EXISTS (SELECT 1 FROM transactions.outbox b
                                            WHERE b.merchant_id = p.merchant_id AND b.id < p.id
                                              AND b.dispatched_at IS NULL AND b.locked_until >= now())
                         ORDER BY p.id LIMIT $1 FOR UPDATE) due
                 WHERE o.id = due.id
                RETURNING o.id, o.merchant_id, o.payload::text
                """)
            {
                Parameters = { new() { Value = BatchSize }, new() { Value = Lease } },
            });
            // Not cancelled midway: a lease committed but never read would hold these rows until it ends.
            await using var r = await lease.ExecuteReaderAsync(CancellationToken.None);
            await r.NextResultAsync(CancellationToken.None);
            while (await r.ReadAsync(CancellationToken.None))
            {
                taken.Add((r.GetInt64(0), r.GetString(1), r.GetString(2)));
            }
        }
        if (taken.Count == 0)
        {
            return 0;
        }
        // Background work: its own trace, not the one of whatever request kicked the relay.
        Activity.Current = null;
        using var span = GatewayInstruments.Outbox.StartActivity("outbox relay");
        span?.SetTag("payments.outbox.events", taken.Count);
        var started = Stopwatch.GetTimestamp();
        var delivered = new List<long>(taken.Count);
        var skipped = new List<long>(); // not attempted: handed back at once
        // A merchant whose event failed: its later events wait behind it (which stays leased, the lease being the
        // retry delay), so they are not delivered past it. Other merchants' events go on.
        var blocked = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var ready = new List<(long Id, TransactionEvent Event)>(taken.Count);
            foreach (var (id, merchantId, payload) in taken.OrderBy(t => t.Id))
            {
                if (blocked.Contains(merchantId))
                {
                    skipped.Add(id);
                    continue;
                }
                try
                {
                    ready.Add((id, JsonSerializer.Deserialize<TransactionEvent>(payload, PaymentsJson.Options)!));
                }
                catch (JsonException e)
                {
                    blocked.Add(merchantId);
                    logger.LogError(e, "Outbox event {Id} is unreadable; its merchant's later events wait behind it", id);
                }
            }
            await using var scope = scopes.CreateAsyncScope();
            var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
            try
            {
                // The whole batch at once: handlers apply it in one transaction each.
                if (ready.Count > 0)
                {
                    await bus.InvokeAsync(new TransactionEventBatch(ready.Select(e => e.Event).ToList()), ct, InvokeTimeout);
                    delivered.AddRange(ready.Select(e => e.Id));
                    ready.ForEach(e => OutboxMetrics.Count(e.Event));
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Delivering a batch of {Count} events failed; delivering them one by one", ready.Count);
                foreach (var (id, evt) in ready)
                {
                    // Past half the lease, the rest goes back rather than risk delivering after the lease ended.
                    if (blocked.Contains(evt.MerchantId) || Stopwatch.GetElapsedTime(started) > Lease / 2)
                    {
                        skipped.Add(id);
                        continue;
                    }
                    try
                    {
                        await bus.InvokeAsync(evt, ct, InvokeTimeout);
                        delivered.Add(id);
                        OutboxMetrics.Count(evt);
                    }
                    catch (Exception one) when (one is not OperationCanceledException)
                    {
                        blocked.Add(evt.MerchantId);
                        logger.LogWarning(one, "Delivering event {EventId} ({Type}) failed", evt.EventId, evt.Type);
                    }
                }
            }
        }
        finally
        {
            // One round trip for the batch; a crash before it redelivers the delivered rows (handlers are idempotent)
            // and leaves the rest leased until the lease ends. Stopping, every row not delivered goes back at once,
            // so another Host takes it without waiting for the lease.
            var handBack = ct.IsCancellationRequested ? taken.Select(t => t.Id).Except(delivered).ToArray() : skipped.ToArray();
            await using var batch = db.CreateBatch();
            batch.BatchCommands.Add(new NpgsqlBatchCommand(
                "UPDATE transactions.outbox SET dispatched_at = now(), locked_until = NULL WHERE id = ANY($1)")
            {
                Parameters = { new() { Value = delivered.ToArray() } },
            });
            batch.BatchCommands.Add(new NpgsqlBatchCommand("UPDATE transactions.outbox SET locked_until = NULL WHERE id = ANY($1)")
            {
                Parameters = { new() { Value = handBack } },
            });
            await batch.ExecuteNonQueryAsync(CancellationToken.None);
        }
        return taken.Count;
    }
}
