using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Ids;
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
/// relays: rows are leased with <c>FOR UPDATE SKIP LOCKED</c> and a lease time.
/// </summary>
internal sealed class OutboxRelay(
    NpgsqlDataSource db,
    IServiceScopeFactory scopes,
    OutboxSignal signal,
    IOptions<TransactionsOptions> options,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await DrainOnceAsync(stoppingToken) == BatchSize)
                {
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Outbox relay pass failed; retrying on the next poll");
            }
            try
            {
                await signal.WaitAsync(options.Value.OutboxPollInterval, stoppingToken);
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
        var taken = new List<(long Id, string Payload)>();
        await using (var cmd = db.CreateCommand("""
            UPDATE transactions.outbox o SET locked_until = now() + interval '30 seconds', attempts = o.attempts + 1
              FROM (SELECT id FROM transactions.outbox
                     WHERE dispatched_at IS NULL AND (locked_until IS NULL OR locked_until < now())
                     ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) due
             WHERE o.id = due.id
            RETURNING o.id, o.payload::text
            """))
        {
            cmd.Parameters.Add(new() { Value = BatchSize });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                taken.Add((r.GetInt64(0), r.GetString(1)));
            }
        }
        if (taken.Count == 0)
        {
            return 0;
        }
        await using var scope = scopes.CreateAsyncScope();
        var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
        var delivered = new List<long>(taken.Count);
        try
        {
            var ordered = taken.OrderBy(t => t.Id).ToList();
            var events = ordered.Select(t => JsonSerializer.Deserialize<TransactionEvent>(t.Payload, PaymentsJson.Options)!).ToList();
            try
            {
                // The whole batch at once: handlers apply it in one transaction each.
                await bus.InvokeAsync(new TransactionEventBatch(events), ct, TimeSpan.FromSeconds(30));
                delivered.AddRange(ordered.Select(t => t.Id));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One event spoils the batch: deliver them one by one, so the others still go out.
                logger.LogWarning(e, "Delivering a batch of {Count} events failed; delivering them one by one", events.Count);
                for (var i = 0; i < events.Count; i++)
                {
                    try
                    {
                        await bus.InvokeAsync(events[i], ct, TimeSpan.FromSeconds(30));
                        delivered.Add(ordered[i].Id);
                    }
                    catch (Exception one) when (one is not OperationCanceledException)
                    {
                        // Left leased: another pass retries it after the lease; later events still go out.
                        logger.LogWarning(one, "Delivering event {EventId} ({Type}) failed", events[i].EventId, events[i].Type);
                    }
                }
            }
        }
        finally
        {
            // One statement for the batch; a crash before it redelivers the batch, which handlers take idempotently.
            // Stopping, the rows not delivered are handed back at once: left leased, a newer event reaching another
            // Host first would overtake them in the merchant's webhook sequence.
            var undelivered = ct.IsCancellationRequested ? taken.Select(t => t.Id).Except(delivered).ToArray() : [];
            if (delivered.Count > 0 || undelivered.Length > 0)
            {
                await using var batch = db.CreateBatch();
                batch.BatchCommands.Add(new NpgsqlBatchCommand(
                    "UPDATE transactions.outbox SET dispatched_at = now(), locked_until = NULL WHERE id = ANY($1)")
                {
                    Parameters = { new() { Value = delivered.ToArray() } },
                });
                batch.BatchCommands.Add(new NpgsqlBatchCommand("UPDATE transactions.outbox SET locked_until = NULL WHERE id = ANY($1)")
                {
                    Parameters = { new() { Value = undelivered } },
                });
                await batch.ExecuteNonQueryAsync(CancellationToken.None);
            }
        }
        return taken.Count;
    }
}
