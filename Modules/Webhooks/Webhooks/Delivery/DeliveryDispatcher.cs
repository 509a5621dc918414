using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Hosting;
using Payments.Webhooks.Recording;
using Payments.Webhooks.Secrets;

namespace Payments.Webhooks.Delivery;

/// <summary>
/// Sends queued deliveries; all its state is in the <c>webhooks</c> schema, so a restart (or another Host process)
/// picks up where it stopped. Per endpoint, strictly one delivery at a time and in <c>sequence</c> order: a worker
/// leases the endpoint row, sends the head of its queue (lowest pending sequence) and only then the next; a failed
/// head is retried with exponential backoff and holds back the events after it. A head still failing
/// <see cref="WebhooksOptions.RetryFor"/> after its first attempt is given up and the endpoint is <c>DISABLED</c>.
/// At least once: a delivery is marked done only after a 2xx answer.
/// </summary>
internal sealed class DeliveryDispatcher(
    NpgsqlDataSource db,
    WebhookSender sender,
    SecretSealer sealer,
    IOptions<WebhooksOptions> options,
    ILogger<DeliveryDispatcher> logger) : BackgroundService
{
    private readonly Guid owner = Guid.NewGuid();
    private readonly ConcurrentDictionary<string, Task> running = new(StringComparer.Ordinal);
    private readonly WakeSignal wake = new();

    private TimeSpan Lease => options.Value.AttemptTimeout + options.Value.LeaseMargin;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        DispatchSignal.Kicked += wake.Kick;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await StartDueEndpointsAsync(stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    logger.LogWarning(e, "Webhook dispatch pass failed; retrying on the next poll");
                }
                try
                {
                    await wake.WaitAsync(options.Value.PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            DispatchSignal.Kicked -= wake.Kick;
            await Task.WhenAll(running.Values).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None)
                .ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    public override void Dispose()
    {
        wake.Dispose();
        base.Dispose();
    }

    /// <summary>Leases every endpoint whose queue head is due and starts a worker for it.</summary>
    internal async Task StartDueEndpointsAsync(CancellationToken ct)
    {
        var room = options.Value.MaxConcurrentEndpoints - running.Count;
        if (room <= 0)
        {
            return;
        }
        var due = new List<string>();
        await using (var cmd = db.CreateCommand("""
            SELECT e.id FROM webhooks.endpoints e
             WHERE e.status = 'ENABLED' AND e.deleted_at IS NULL AND (e.lease_until IS NULL OR e.lease_until < now())
               AND (SELECT d.next_attempt_at FROM webhooks.deliveries d
                     WHERE d.endpoint_id = e.id AND d.state = 'PENDING'
                     ORDER BY d.sequence, d.id LIMIT 1) <= now()
             LIMIT $1
            """))
        {
            cmd.Parameters.Add(new() { Value = room });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                due.Add(r.GetString(0));
            }
        }
        foreach (var endpointId in due)
        {
            if (running.ContainsKey(endpointId) || !await TryLeaseAsync(endpointId, ct))
            {
                continue;
            }
            var worker = Task.Run(() => RunEndpointAsync(endpointId, ct), CancellationToken.None);
            running[endpointId] = worker;
            _ = worker.ContinueWith(_ => running.TryRemove(endpointId, out Task? _), TaskScheduler.Default);
        }
    }

    private async Task<bool> TryLeaseAsync(string endpointId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            UPDATE webhooks.endpoints SET lease_owner = $2, lease_until = now() + $3
             WHERE id = $1 AND status = 'ENABLED' AND deleted_at IS NULL
               AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $2)
            """);
        cmd.Parameters.Add(new() { Value = endpointId });
        cmd.Parameters.Add(new() { Value = owner });
        cmd.Parameters.Add(new() { Value = Lease });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    private async Task RunEndpointAsync(string endpointId, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var head = await DueHeadAsync(endpointId, ct);
                if (head is null || !await TryLeaseAsync(endpointId, ct))
                {
                    break;
                }
                var secret = sealer.Open(endpointId, head.Nonce, head.SealedSecret);
                var result = await sender.SendAsync(head.Url, secret, head.EventId, head.Body, ct);
                ct.ThrowIfCancellationRequested(); // stopping mid-attempt: the delivery stays pending (at least once)
                await RecordAsync(head, result, ct);
                if (!result.Delivered)
                {
                    logger.LogInformation("Webhook delivery {DeliveryId} of {EventId} to {EndpointId} failed: {Error}",
                        head.DeliveryId, head.EventId, endpointId, result.Error);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Webhook worker for {EndpointId} stopped; the lease runs out and another pass resumes", endpointId);
            return;
        }
        await ReleaseAsync(endpointId);
    }

    private sealed record Head(string EndpointId, long DeliveryId, string EventId, string Body, string Url, byte[] Nonce, byte[] SealedSecret);

    /// <summary>The endpoint's lowest pending delivery if it is due now and this process holds the lease.</summary>
    private async Task<Head?> DueHeadAsync(string endpointId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT d.id, d.event_id, ev.body, e.url, e.secret_nonce, e.secret_sealed, d.next_attempt_at <= now()
              FROM webhooks.deliveries d
              JOIN webhooks.events ev ON ev.id = d.event_id
              JOIN webhooks.endpoints e ON e.id = d.endpoint_id
             WHERE d.endpoint_id = $1 AND d.state = 'PENDING'
               AND e.status = 'ENABLED' AND e.deleted_at IS NULL AND e.lease_owner = $2
             ORDER BY d.sequence, d.id
             LIMIT 1
            """);
        cmd.Parameters.Add(new() { Value = endpointId });
        cmd.Parameters.Add(new() { Value = owner });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct) || !r.GetBoolean(6))
        {
            return null;
        }
        return new Head(endpointId, r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetFieldValue<byte[]>(4), r.GetFieldValue<byte[]>(5));
    }

    private async Task RecordAsync(Head head, AttemptResult result, CancellationToken ct)
    {
        if (result.Delivered)
        {
            await using var ok = db.CreateCommand("""
                UPDATE webhooks.deliveries
                   SET state = 'DELIVERED', attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, now()),
                       last_attempt_at = now(), last_status = $2, last_error = NULL, done_at = now()
                 WHERE id = $1 AND state = 'PENDING'
                """);
            ok.Parameters.Add(new() { Value = head.DeliveryId });
            ok.Parameters.Add(new() { Value = result.Status!.Value });
            await ok.ExecuteNonQueryAsync(ct);
            return;
        }
        // Backoff: base × 2^(earlier attempts), capped; past RetryFor since the first attempt, give up and disable.
        await using var failed = db.CreateCommand("""
            WITH upd AS (
                UPDATE webhooks.deliveries
                   SET attempts = attempts + 1,
                       first_attempt_at = coalesce(first_attempt_at, now()),
                       last_attempt_at = now(), last_status = $2, last_error = $3,
                       next_attempt_at = now() + least($4 * power(2, least(attempts, 30)), $5),
                       state = CASE WHEN now() - coalesce(first_attempt_at, now()) >= $6 THEN 'FAILED' ELSE 'PENDING' END,
                       done_at = CASE WHEN now() - coalesce(first_attempt_at, now()) >= $6 THEN now() END
                 WHERE id = $1 AND state = 'PENDING'
                RETURNING endpoint_id, state, first_attempt_at)
            UPDATE webhooks.endpoints e
               SET status = 'DISABLED', disabled_at = now(), lease_owner = NULL, lease_until = NULL,
                   disabled_reason = 'Deliveries failed since ' || to_char(upd.first_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                                     || '; last error: ' || $3
              FROM upd
             WHERE upd.state = 'FAILED' AND e.id = upd.endpoint_id AND e.status = 'ENABLED'
            """);
        failed.Parameters.Add(new() { Value = head.DeliveryId });
        failed.Parameters.Add(new() { Value = (object?)result.Status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        failed.Parameters.Add(new() { Value = result.Error ?? "failed" });
        failed.Parameters.Add(new() { Value = options.Value.RetryBaseDelay });
        failed.Parameters.Add(new() { Value = options.Value.MaxRetryDelay });
        failed.Parameters.Add(new() { Value = options.Value.RetryFor });
        if (await failed.ExecuteNonQueryAsync(ct) == 1)
        {
            logger.LogWarning("Webhook endpoint {EndpointId} disabled: deliveries kept failing for {RetryFor}",
                head.EndpointId, options.Value.RetryFor);
        }
    }

    private async Task ReleaseAsync(string endpointId)
    {
        try
        {
            await using var cmd = db.CreateCommand(
                "UPDATE webhooks.endpoints SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2");
            cmd.Parameters.Add(new() { Value = endpointId });
            cmd.Parameters.Add(new() { Value = owner });
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.LogWarning("Could not release the lease on webhook endpoint {EndpointId}: {Error}", endpointId, e.GetType().Name);
        }
    }
}
