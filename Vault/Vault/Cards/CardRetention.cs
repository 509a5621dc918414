using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Audit;

namespace Payments.Vault.Cards;

/// <summary>The card retention policy (<c>Vault:Retention</c>, ADR 132).</summary>
internal sealed class RetentionOptions
{
    /// <summary>A card not used for this long (since its last use, or its creation if never used) is deleted.</summary>
    public TimeSpan CardsUnusedFor { get; set; } = TimeSpan.FromDays(395); // 13 months

    /// <summary>How long after a capture a refund or chargeback can still come.</summary>
    public TimeSpan RefundWindow { get; set; } = TimeSpan.FromDays(180);

    /// <summary>
    /// How long an authorization can be captured (the Host's <c>Transactions:AuthorizationWindow</c>): the Vault sees
    /// authorizations, not captures, so a capture may come this long after the card's last use.
    /// </summary>
    public TimeSpan AuthorizationWindow { get; set; } = TimeSpan.FromDays(7);

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Cards deleted per transaction (each with its audit row).</summary>
    public int BatchSize { get; set; } = 500;

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The card's idle time before deletion: the configured period, but never less than the last use plus the
    /// authorization window, the refund window and a day (last_used_at is written at most once a day).
    /// </summary>
    public TimeSpan EffectiveUnusedFor => new[] { CardsUnusedFor, AuthorizationWindow + RefundWindow + TimeSpan.FromDays(1) }.Max();
}

/// <summary>
/// Deletes cards unused past the retention (ADR 132): in bounded batches, each deletion audited (token and merchant
/// only) in the batch's transaction, and the CVC store forgets the token.
/// </summary>
internal sealed class CardRetention(NpgsqlDataSource db, AuditLog audit, CvcStore cvcs, IOptions<VaultOptions> options)
{
    /// <summary>One batch; returns how many cards it deleted.</summary>
    public async Task<int> SweepBatchAsync(CancellationToken ct)
    {
        var policy = options.Value.Retention;
        var unusedFor = policy.EffectiveUnusedFor;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var deleted = new List<(string Token, string Merchant, DateTime LastUse)>();
        await using (var cmd = new NpgsqlCommand("""
            DELETE FROM vault.cards WHERE token IN (
                SELECT token FROM vault.cards WHERE coalesce(last_used_at, created_at) < now() - $1
                 ORDER BY coalesce(last_used_at, created_at) LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING token, merchant_id, coalesce(last_used_at, created_at)
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = unusedFor });
            cmd.Parameters.Add(new() { Value = policy.BatchSize });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                deleted.Add((r.GetString(0), r.GetString(1), r.GetDateTime(2)));
            }
        }
        foreach (var (token, merchant, lastUse) in deleted)
        {
            await audit.AppendAsync(conn, tx, "card.retention_deleted", merchant, token, new Dictionary<string, object?>
            {
                ["last_use_or_creation"] = lastUse, ["unused_for_days"] = (int)unusedFor.TotalDays,
            }, ct);
        }
        await tx.CommitAsync(ct);
        foreach (var (token, _, _) in deleted)
        {
            cvcs.Forget(token);
        }
        return deleted.Count;
    }

    /// <summary>Batches until none is full; returns how many cards were deleted.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var total = 0;
        int n;
        do
        {
            n = await SweepBatchAsync(ct);
            total += n;
        }
        while (n == options.Value.Retention.BatchSize && !ct.IsCancellationRequested);
        return total;
    }
}

/// <summary>
/// Runs the card retention sweep every <see cref="RetentionOptions.SweepInterval"/> in the serving Vault, and purges
/// decided approvals past their retention.
/// </summary>
internal sealed class RetentionSweep(CardRetention retention, Acquirer.Approvals approvals, IOptions<VaultOptions> options,
    ILogger<RetentionSweep> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Retention.SweepInterval);
        try
        {
            do
            {
                try
                {
                    if (options.Value.Retention.Enabled && await retention.SweepAsync(stoppingToken) is > 0 and var n)
                    {
                        logger.LogInformation("Card retention: deleted {Count} cards unused past the retention", n);
                    }
                    while (await approvals.PurgeAsync(stoppingToken) == 10_000)
                    {
                    }
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    logger.LogWarning("The card retention sweep failed; retrying later: {Error}", e.GetType().Name);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
