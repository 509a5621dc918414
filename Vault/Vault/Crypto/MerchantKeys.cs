using System.Collections.Concurrent;
using System.Security.Cryptography;
using Npgsql;
using Payments.Vault.Audit;

namespace Payments.Vault.Crypto;

/// <summary>
/// Per-merchant data keys (docs/adr/0129): a random 256-bit key per merchant, created with the merchant's first card
/// and stored wrapped under the KEK. <see cref="ForgetAsync"/> destroys them through the key administration function,
/// which notifies every Vault process; each empties its cache on the notification, and keeps no cache at all while
/// it is not listening, so a forgotten merchant's cards stop decrypting everywhere within the notification's delivery.
/// </summary>
internal sealed class MerchantKeys(WrappedKeys keys, NpgsqlDataSource db, AuditLog audit, ILogger<MerchantKeys> logger)
{
    public const string DestroyedChannel = "vault_keys_destroyed";

    private readonly ConcurrentDictionary<string, UnwrappedKey> current = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, UnwrappedKey> byId = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> notices = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource listeningStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool listening;

    /// <summary>True while this process receives destruction notices, so its cache may be trusted.</summary>
    public bool Listening => listening;

    /// <summary>Completes the first time this process starts receiving destruction notices.</summary>
    internal Task ListeningStarted => listeningStarted.Task;

    /// <summary>The key new cards of the merchant are sealed under (made on the merchant's first card).</summary>
    public async ValueTask<UnwrappedKey> CurrentForAsync(string merchantId, CancellationToken ct)
    {
        if (listening && current.TryGetValue(merchantId, out var cached))
        {
            return cached;
        }
        var key = await keys.GetOrCreateAsync(WrappedKeys.MerchantDek, merchantId, () => RandomNumberGenerator.GetBytes(32), ct);
        Remember(key);
        return key;
    }

    /// <summary>The merchant's key with this id; throws <see cref="CryptographicException"/> once it is destroyed.</summary>
    public async ValueTask<byte[]> GetAsync(string merchantId, Guid keyId, CancellationToken ct)
    {
        if (!listening || !byId.TryGetValue(keyId, out var key))
        {
            key = await keys.FindAsync(keyId, ct) ?? throw new CryptographicException("The merchant's card key is destroyed or unknown.");
            Remember(key);
        }
        if (key.Purpose != WrappedKeys.MerchantDek || key.Scope != merchantId)
        {
            throw new CryptographicException("The card key belongs to another merchant.");
        }
        return key.Key;
    }

    /// <summary>
    /// Crypto-shredding: destroys every data key of the merchant (through <c>vault.forget_merchant</c>, as
    /// vault_keyadmin), audited in the same transaction; the merchant's cards are unreadable from then on.
    /// </summary>
    public async Task<MerchantForgotten> ForgetAsync(string merchantId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        int destroyed;
        await using (var cmd = new NpgsqlCommand("SELECT vault.forget_merchant($1)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = merchantId });
            destroyed = (int)(await cmd.ExecuteScalarAsync(ct))!;
        }
        long cards;
        await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM vault.cards WHERE merchant_id = $1", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = merchantId });
            cards = (long)(await cmd.ExecuteScalarAsync(ct))!;
        }
        await audit.AppendAsync(conn, tx, "merchant.forgotten", merchantId, merchantId, new Dictionary<string, object?>
        {
            ["keys_destroyed"] = destroyed, ["cards_unreadable"] = cards,
        }, ct);
        await tx.CommitAsync(ct);
        Evict(merchantId);
        return new MerchantForgotten(merchantId, destroyed, cards);
    }

    /// <summary>Completes when this process has received the destruction notice for <paramref name="merchantId"/>.</summary>
    internal Task NoticeReceived(string merchantId) =>
        notices.GetOrAdd(merchantId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    internal void OnDestroyed(string merchantId)
    {
        Evict(merchantId);
        NoticeReceived(merchantId);
        if (notices.TryGetValue(merchantId, out var notice))
        {
            notice.TrySetResult();
        }
    }

    internal void SetListening(bool value)
    {
        listening = value;
        // Anything cached before (or while not) listening may have missed a notice.
        current.Clear();
        byId.Clear();
        if (value)
        {
            listeningStarted.TrySetResult();
        }
    }

    private void Remember(UnwrappedKey key)
    {
        if (!listening)
        {
            return;
        }
        byId[key.Id] = key;
        current[key.Scope] = key;
    }

    private void Evict(string merchantId)
    {
        current.TryRemove(merchantId, out _);
        foreach (var (id, key) in byId)
        {
            if (key.Scope == merchantId)
            {
                byId.TryRemove(id, out _);
            }
        }
        logger.LogInformation("Data keys of merchant {MerchantId} evicted after destruction", merchantId);
    }
}

internal sealed record MerchantForgotten(string MerchantId, int KeysDestroyed, long CardsUnreadable);

/// <summary>Listens for key destruction in any Vault process (<c>pg_notify</c> by <c>vault.forget_merchant</c>).</summary>
internal sealed class KeyDestructionListener(NpgsqlDataSource db, MerchantKeys merchants, ILogger<KeyDestructionListener> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.OpenConnectionAsync(stoppingToken);
                conn.Notification += (_, e) => merchants.OnDestroyed(e.Payload);
                try
                {
                    await using (var listen = new NpgsqlCommand($"LISTEN {MerchantKeys.DestroyedChannel}", conn))
                    {
                        await listen.ExecuteNonQueryAsync(stoppingToken);
                    }
                    merchants.SetListening(true);
                    while (true)
                    {
                        await conn.WaitAsync(stoppingToken);
                    }
                }
                finally
                {
                    merchants.SetListening(false);
                    try
                    {
                        // Pooled connections are not reset on close: leave none listening.
                        await using var unlisten = new NpgsqlCommand("UNLISTEN *", conn);
                        await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
                    }
                    catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
                    {
                        // A broken connection is discarded by the pool, and its LISTEN with it.
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                logger.LogWarning(e, "Key destruction listener lost its connection; merchant keys are read uncached until it is back");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }
}
