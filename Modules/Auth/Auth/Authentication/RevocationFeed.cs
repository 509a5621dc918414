using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks.Hosting;
using StackExchange.Redis;

namespace Payments.Auth.Authentication;

/// <summary>
/// Fills <see cref="RevokedSet"/>: every unexpired revocation from PostgreSQL at start, then each new one as the
/// instance that made it publishes it on Redis, and, behind pub/sub, a poll of <c>auth.revoked_tokens</c> every
/// <see cref="AuthOptions.RevocationPollInterval"/>, which finds what a disconnected subscriber missed (docs/adr/0013).
/// </summary>
internal sealed class RevocationFeed(
    RevokedSet revoked,
    NpgsqlDataSource db,
    IConnectionMultiplexer redis,
    IOptions<AuthOptions> options,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    ILogger<RevocationFeed> logger) : BackgroundService
{
    private static readonly TimeSpan FullLoadRetry = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PruneEvery = TimeSpan.FromSeconds(30);
    private readonly WakeSignal wake = new();

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Messages published while this subscriber was disconnected are lost: poll at once when it is back.
        redis.ConnectionRestored += (_, _) => Wake();
        try
        {
            await redis.GetSubscriber().SubscribeAsync(RevocationStore.Channel, (_, message) => OnMessage(message));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The multiplexer subscribes when Redis comes back; until then the poll carries every revocation.
            logger.LogWarning("Redis is unreachable: revocations made elsewhere reach this Host by the PostgreSQL poll");
        }
        await base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        wake.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // After every hosted service has started, so after the migrations; checks go to PostgreSQL until the load.
        await lifetime.StartedAsync(stoppingToken);
        ulong? cursor = null; // null: load every unexpired revocation
        var nextFullLoad = 0L;
        var nextPrune = 0L;
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (cursor is not null && !revoked.Loaded)
                {
                    logger.LogWarning("More than {Max} unexpired revocations: checks go to PostgreSQL until they fit in memory",
                        options.Value.MaxRevocationsInMemory);
                    cursor = null;
                    nextFullLoad = Environment.TickCount64 + (long)FullLoadRetry.TotalMilliseconds;
                }
                if (Environment.TickCount64 >= nextPrune)
                {
                    revoked.Prune(clock.GetUtcNow());
                    nextPrune = Environment.TickCount64 + (long)PruneEvery.TotalMilliseconds;
                }
                if (cursor is { } from)
                {
                    cursor = await ReadAsync(from, stoppingToken);
                }
                else if (Environment.TickCount64 >= nextFullLoad)
                {
                    var generation = revoked.Generation;
                    var next = await ReadAsync(0, stoppingToken);
                    if (revoked.MarkLoaded(generation))
                    {
                        cursor = next;
                    }
                    else
                    {
                        logger.LogWarning("More than {Max} unexpired revocations: checks go to PostgreSQL until they fit in memory",
                            options.Value.MaxRevocationsInMemory);
                        nextFullLoad = Environment.TickCount64 + (long)FullLoadRetry.TotalMilliseconds;
                    }
                }
                if (failing)
                {
                    failing = false;
                    logger.LogInformation("Revocation poll succeeds again");
                }
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                if (!failing)
                {
                    failing = true;
                    logger.LogWarning("Revocation poll failed ({Error} {SqlState}); until it succeeds, revocations made elsewhere arrive by Redis only",
                        e.GetType().Name, (e as PostgresException)?.SqlState);
                }
            }
            try
            {
                await wake.WaitAsync(options.Value.RevocationPollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Adds the unexpired revocations written by transactions from <paramref name="from"/> on, and returns where the
    /// next read starts: the oldest transaction still running in the same snapshot. Every transaction below it had
    /// ended, so its rows were visible here; a row this read could not see belongs to a transaction at or past it,
    /// and the next read finds it however late it commits. Rows of transactions still running are read again; as
    /// revocations are rare, that is a few rows at most.
    /// </summary>
    private async Task<ulong> ReadAsync(ulong from, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT s.xmin, r.jti, r.expires_at
            FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) s
            LEFT JOIN auth.revoked_tokens r ON r.written_by >= $1 AND r.expires_at > $2
            """);
        cmd.Parameters.Add(new() { Value = from, NpgsqlDbType = NpgsqlDbType.Xid8 });
        cmd.Parameters.Add(new() { Value = clock.GetUtcNow() - RevokedSet.KeptPastExpiry });
        var next = from;
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            next = r.GetFieldValue<ulong>(0);
            if (!r.IsDBNull(1))
            {
                revoked.Add(r.GetString(1), r.GetFieldValue<DateTimeOffset>(2));
            }
        }
        return next;
    }

    /// <summary>"&lt;exp unix seconds&gt;:&lt;jti&gt;", as <see cref="RevocationStore"/> publishes it.</summary>
    private void OnMessage(RedisValue message)
    {
        var text = (string?)message ?? "";
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || text.Length - colon - 1 is < 1 or > 128
            || !long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var exp))
        {
            return;
        }
        // No entry outlives the longest token: a malformed or hostile message cannot hold memory longer.
        var latest = (clock.GetUtcNow() + options.Value.TokenLifetime + options.Value.ClockSkew).ToUnixTimeSeconds();
        revoked.Add(text[(colon + 1)..], DateTimeOffset.FromUnixTimeSeconds(Math.Min(exp, latest)));
    }

    /// <summary>A poll at once (a pending one covers it).</summary>
    private void Wake() => wake.Kick();
}
