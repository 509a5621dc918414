using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Payments.Vault.Contracts;

namespace Payments.Tokenization.Data;

/// <summary>
/// Records every tokenization success the Vault reports, whether or not a merchant asks for the intent, and marks
/// expired intents: so <c>tokenization_intent.succeeded</c> and friends exist for webhooks. Runs in every Host; the
/// cursor row lock makes one process at a time read a batch.
/// </summary>
internal sealed class VaultFeedSync(
    IVaultTokenizationFeed feed,
    NpgsqlDataSource db,
    IntentStore intents,
    IConfiguration config,
    ILogger<VaultFeedSync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(config.GetValue("Tokenization:SyncIntervalMs", 1000));
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                while (await SyncOnceAsync(stoppingToken) > 0)
                {
                }
                await intents.SweepExpiredAsync(stoppingToken);
            }
            catch (Exception e) when (e is VaultUnavailableException or NpgsqlException or TimeoutException or InvalidOperationException)
            {
                logger.LogWarning("Tokenization sync will retry: {Error}", e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Records one batch of successes; returns how many the Vault gave.</summary>
    public async Task<int> SyncOnceAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long after;
        await using (var cmd = new NpgsqlCommand("SELECT after_sequence FROM tokenization.vault_feed_cursor WHERE id = 1 FOR UPDATE", conn, tx))
        {
            after = (long)(await cmd.ExecuteScalarAsync(ct))!;
        }
        var batch = await feed.ListSucceededTokenizationIntentsAsync(after, 200, ct);
        foreach (var success in batch)
        {
            await intents.TransitionAsync(conn, tx, success.MerchantId, success.IntentId, "SUCCEEDED", success.CardToken, success.Card, ct);
            after = success.Sequence;
        }
        if (batch.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("UPDATE tokenization.vault_feed_cursor SET after_sequence = $1 WHERE id = 1", conn, tx);
            cmd.Parameters.Add(new() { Value = after });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return batch.Count;
    }
}
