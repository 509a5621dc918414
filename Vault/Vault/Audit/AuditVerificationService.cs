using Microsoft.Extensions.Options;
using Npgsql;

namespace Payments.Vault.Audit;

/// <summary>
/// Verifies the chain on a schedule (<see cref="AuditOptions.VerifyInterval"/>): the whole chain once at start, then the
/// rows added since, and the tail against the latest anchor. The result is in /health/live and on /metrics
/// (<c>payments_vault_audit_verification_valid</c>, which ops/prometheus/alerts.yml alerts on); a break is logged once
/// as Critical and stays reported until the Vault is restarted after an investigation.
/// </summary>
internal sealed class AuditVerificationService(
    NpgsqlDataSource db,
    IAuditKey key,
    AuditAnchors anchors,
    TimeProvider clock,
    IOptions<AuditOptions> options,
    ILogger<AuditVerificationService> logger) : BackgroundService
{
    private readonly Lock gate = new();
    private AuditCheckpoint? reached;
    private TaskCompletionSource<AuditVerification> next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The last run's result; null before the first run.</summary>
    public AuditVerification? Last { get; private set; }

    public DateTimeOffset? LastRunAt { get; private set; }

    /// <summary>Completes with the next run's result (tests wait on it rather than on a clock).</summary>
    public Task<AuditVerification> NextRunAsync()
    {
        lock (gate)
        {
            return next.Task;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.VerifyInterval, clock);
        try
        {
            do
            {
                if (Last is { Valid: false })
                {
                    Publish(Last); // broken stays broken
                    continue;
                }
                try
                {
                    await RunAsync(stoppingToken);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    logger.LogWarning("The scheduled audit verification could not run; retrying later: {Error}", e.GetType().Name);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task<AuditVerification> RunAsync(CancellationToken ct)
    {
        var (result, checkpoint) = await AuditVerifier.VerifyFromAsync(db, key, reached, anchors.Latest, ct);
        reached = checkpoint;
        if (!result.Valid && Last is not { Valid: false })
        {
            logger.LogCritical("The audit chain does not verify: {AuditProblem} at seq {AuditBrokenSeq}. Run './run.sh vault audit verify'.",
                result.Problem, result.FirstBrokenSeq);
        }
        Publish(result);
        return result;
    }

    private void Publish(AuditVerification result)
    {
        Last = result;
        LastRunAt = clock.GetUtcNow();
        TaskCompletionSource<AuditVerification> done;
        lock (gate)
        {
            done = next;
            next = new TaskCompletionSource<AuditVerification>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        done.TrySetResult(result);
    }
}
