using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace Payments.Auth.Authentication;

/// <summary>
/// Revoked token ids: PostgreSQL is the record; each Host's <see cref="RevokedSet"/> is what requests read, with no
/// I/O (docs/adr/0013). A revocation is added to this Host's set at once, published on Redis for the others, and
/// reaches them by <see cref="RevocationFeed"/>'s PostgreSQL poll when pub/sub loses it.
/// Redis also keeps <c>auth:revoked:&lt;jti&gt;</c> keys for other tooling (docs/adr/0012), complete while it holds
/// the <see cref="LoadedMarker"/>, set after every unexpired revocation was copied into it. Revocations written while
/// Redis was unreachable stay <c>in_cache = false</c> until the sync pushes them.
/// </summary>
internal sealed class RevocationStore(
    NpgsqlDataSource db,
    IConnectionMultiplexer redis,
    RevokedSet revoked,
    TimeProvider clock,
    ILogger<RevocationStore> logger)
{
    internal const string KeyPrefix = "auth:revoked:";
    internal const string LoadedMarker = "auth:revoked:loaded";
    internal static readonly RedisChannel Channel = RedisChannel.Literal("auth:revoked");

    /// <summary>Set when a Redis write failed; the sync then refills it.</summary>
    private volatile bool needsSync = true;

    public async Task RevokeAsync(string jti, string merchantId, DateTimeOffset expiresAt, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using (var cmd = db.CreateCommand(
            "INSERT INTO auth.revoked_tokens (jti, merchant_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING"))
        {
            cmd.Parameters.Add(new() { Value = jti });
            cmd.Parameters.Add(new() { Value = merchantId });
            cmd.Parameters.Add(new() { Value = expiresAt });
            cmd.Parameters.Add(new() { Value = now });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        revoked.Add(jti, expiresAt);
        try
        {
            // Fire and forget: the other Hosts' poll is the guarantee, pub/sub only makes it sooner.
            await redis.GetSubscriber().PublishAsync(Channel, $"{expiresAt.ToUnixTimeSeconds()}:{jti}", CommandFlags.FireAndForget);
            await redis.GetDatabase().StringSetAsync(KeyPrefix + jti, "1", Ttl(expiresAt, now));
            await MarkCachedAsync([jti], ct);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            needsSync = true;
            logger.LogWarning("Redis is unreachable; revocation kept in PostgreSQL and pushed to Redis when it is back");
        }
    }

    /// <summary>From this Host's set, without I/O; from PostgreSQL while the set is not loaded.</summary>
    public ValueTask<bool> IsRevokedAsync(string jti, CancellationToken ct) =>
        revoked.Loaded ? ValueTask.FromResult(revoked.Contains(jti)) : new(IsRecordedAsync(jti, ct));

    private async Task<bool> IsRecordedAsync(string jti, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT EXISTS (SELECT 1 FROM auth.revoked_tokens WHERE jti = $1)");
        cmd.Parameters.Add(new() { Value = jti });
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Copies unexpired revocations into Redis when it lacks them; true when Redis is now trusted.</summary>
    public async Task<bool> SyncAsync(CancellationToken ct)
    {
        var rdb = redis.GetDatabase();
        bool pending;
        await using (var cmd = db.CreateCommand("SELECT EXISTS (SELECT 1 FROM auth.revoked_tokens WHERE NOT in_cache AND expires_at > $1)"))
        {
            cmd.Parameters.Add(new() { Value = clock.GetUtcNow() });
            pending = (bool)(await cmd.ExecuteScalarAsync(ct))!;
        }
        if (!pending && !needsSync && await rdb.KeyExistsAsync(LoadedMarker))
        {
            return true;
        }
        var now = clock.GetUtcNow();
        var jtis = new List<string>();
        await using (var cmd = db.CreateCommand("SELECT jti, expires_at FROM auth.revoked_tokens WHERE expires_at > $1"))
        {
            cmd.Parameters.Add(new() { Value = now });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var jti = r.GetString(0);
                await rdb.StringSetAsync(KeyPrefix + jti, "1", Ttl(r.GetFieldValue<DateTimeOffset>(1), now));
                jtis.Add(jti);
            }
        }
        await rdb.StringSetAsync(LoadedMarker, "1");
        await MarkCachedAsync(jtis, ct);
        needsSync = false;
        return true;
    }

    private async Task MarkCachedAsync(IReadOnlyList<string> jtis, CancellationToken ct)
    {
        if (jtis.Count == 0)
        {
            return;
        }
        await using var cmd = db.CreateCommand("UPDATE auth.revoked_tokens SET in_cache = true WHERE jti = ANY($1) AND NOT in_cache");
        cmd.Parameters.Add(new() { Value = jtis.ToArray() });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static TimeSpan Ttl(DateTimeOffset expiresAt, DateTimeOffset now)
    {
        var remaining = expiresAt - now + RevokedSet.KeptPastExpiry;
        return remaining > TimeSpan.FromSeconds(1) ? remaining : TimeSpan.FromSeconds(1);
    }
}

/// <summary>
/// Keeps Redis' revocation keys complete, for tooling that reads them: after a Redis restart, and for revocations made
/// while it was down. Requests do not read them (<see cref="RevokedSet"/>).
/// </summary>
internal sealed class RevocationSync(RevocationStore store, ILogger<RevocationSync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        do
        {
            try
            {
                await store.SyncAsync(stoppingToken);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or NpgsqlException)
            {
                logger.LogDebug(e, "Revocation sync skipped: a store is unreachable");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
