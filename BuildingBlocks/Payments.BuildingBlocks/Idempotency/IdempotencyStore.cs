using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using StackExchange.Redis;

namespace Payments.BuildingBlocks.Idempotency;

/// <summary>A stored final answer.</summary>
public sealed record StoredResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>What the store says about a key when a request arrives.</summary>
public abstract record ClaimOutcome
{
    /// <summary>This request owns the key and runs.</summary>
    public sealed record Claimed(IdempotencyClaim Claim) : ClaimOutcome;

    /// <summary>The first request finished: replay its answer.</summary>
    public sealed record Replay(StoredResponse Response) : ClaimOutcome;

    /// <summary>The key was used with a different request.</summary>
    public sealed record Mismatch : ClaimOutcome;

    /// <summary>The first request still runs.</summary>
    public sealed record InProgress : ClaimOutcome;
}

/// <summary>
/// Keys and answers: PostgreSQL is the record (a row per merchant and key), Redis a cache of completed answers
/// in front of it. Every Redis failure falls back to PostgreSQL, so the guarantee holds with Redis down.
/// </summary>
public sealed class IdempotencyStore(
    NpgsqlDataSource db,
    IConnectionMultiplexer redis,
    TimeProvider clock,
    IOptions<IdempotencyOptions> options,
    ILogger<IdempotencyStore> logger)
{
    private readonly IdempotencyOptions opts = options.Value;

    /// <summary>
    /// A key as stored: its SHA-256, hex. Merchants choose keys, and one may put a card number or another secret in
    /// one; the Host keeps no card number in clear (SECURITY.md), and the key also seals answers that show a secret.
    /// </summary>
    public static string Digest(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static byte[] Fingerprint(string method, string path, ReadOnlySpan<byte> body)
    {
        var canonical = JsonCanonicalizer.TryCanonicalize(body) ?? body.ToArray();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(method.ToUpperInvariant() + " " + path + "\n"));
        sha.AppendData(canonical);
        return sha.GetHashAndReset();
    }

    /// <summary>
    /// PostgreSQL first: a new key (nearly every request) is claimed in one round trip and Redis is not asked. Only a
    /// key PostgreSQL reports as taken is looked up in the cache of answers, then in PostgreSQL.
    /// </summary>
    public async Task<ClaimOutcome> ClaimAsync(string merchantId, string key, byte[] fingerprint, CancellationToken ct)
    {
        var digest = Digest(key);
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var now = clock.GetUtcNow();
            var token = Guid.NewGuid();
            await using var conn = await db.OpenConnectionAsync(ct);
            // Take the key when it is free, expired, or held by a crashed request with the same fingerprint.
            // Committed without waiting for the disk: whatever the request then commits (its change with the answer,
            // or the stored refusal) waits for the disk and so flushes the claim too. A claim lost to a crash before
            // that leaves nothing behind: the retry claims afresh, and the Vault knows the key (ADR 25).
            await using (var cmd = new NpgsqlCommand("""
                WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
                INSERT INTO idempotency.requests AS r
                       (merchant_id, idem_key, fingerprint, state, lease_token, lease_until, created_at, expires_at)
                SELECT $1, $2, $3, 'in_progress', $4, $5, $6, $7 FROM async_commit
                ON CONFLICT (merchant_id, idem_key) DO UPDATE
                   SET fingerprint = excluded.fingerprint, state = 'in_progress', lease_token = excluded.lease_token,
                       lease_until = excluded.lease_until, created_at = excluded.created_at,
                       expires_at = excluded.expires_at, response_status = NULL, response_headers = NULL,
                       response_body = NULL, completed_at = NULL
                 WHERE r.expires_at <= excluded.created_at
                    OR (r.state = 'in_progress' AND r.lease_until <= excluded.created_at AND r.fingerprint = excluded.fingerprint)
                RETURNING 1
                """, conn))
            {
                cmd.Parameters.Add(new() { Value = merchantId });
                cmd.Parameters.Add(new() { Value = digest });
                cmd.Parameters.Add(new() { Value = fingerprint });
                cmd.Parameters.Add(new() { Value = token });
                cmd.Parameters.Add(new() { Value = now + opts.Lease });
                cmd.Parameters.Add(new() { Value = now });
                cmd.Parameters.Add(new() { Value = now + opts.Retention });
                if (await cmd.ExecuteScalarAsync(ct) is not null)
                {
                    return new ClaimOutcome.Claimed(new IdempotencyClaim(merchantId, key, digest, fingerprint, token, now + opts.Retention));
                }
            }

            // The key is taken: its answer may be cached (asked once; a retry after a release goes to PostgreSQL).
            if (attempt == 0 && await FromCacheAsync(merchantId, digest) is { } cached)
            {
                return CryptographicOperations.FixedTimeEquals(cached.Fingerprint, fingerprint)
                    ? new ClaimOutcome.Replay(cached.Response)
                    : new ClaimOutcome.Mismatch();
            }

            await using (var cmd = new NpgsqlCommand("""
                SELECT fingerprint, state, response_status, response_headers::text, response_body, expires_at
                  FROM idempotency.requests WHERE merchant_id = $1 AND idem_key = $2
                """, conn))
            {
                cmd.Parameters.Add(new() { Value = merchantId });
                cmd.Parameters.Add(new() { Value = digest });
                await using var r = await cmd.ExecuteReaderAsync(ct);
                if (!await r.ReadAsync(ct))
                {
                    continue; // released in between: try to claim again
                }
                var stored = (byte[])r[0];
                if (!CryptographicOperations.FixedTimeEquals(stored, fingerprint))
                {
                    return new ClaimOutcome.Mismatch();
                }
                if (r.GetString(1) != "completed")
                {
                    return new ClaimOutcome.InProgress();
                }
                var response = new StoredResponse(r.GetInt32(2),
                    JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(3)) ?? [], (byte[])r[4]);
                var expiresAt = r.GetFieldValue<DateTimeOffset>(5);
                Cache(merchantId, digest, fingerprint, response, expiresAt);
                return new ClaimOutcome.Replay(response);
            }
        }
        return new ClaimOutcome.InProgress();
    }

    /// <summary>
    /// Stores the answer of a request whose slice did not complete the claim itself (refusals that changed nothing).
    /// False when the lease was lost meanwhile: the key's answer is then another request's, and this one is neither
    /// stored nor cached.
    /// </summary>
    public async Task<bool> CompleteAsync(IdempotencyClaim claim, StoredResponse response, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(claim.CompletionCommand(response.Status, response.Body, response.Headers, clock.GetUtcNow()));
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (IdempotencyClaim.IsLeaseLost(e))
        {
            return false;
        }
        Cache(claim.MerchantId, claim.KeyDigest, claim.Fingerprint, response, claim.ExpiresAt);
        return true;
    }

    /// <summary>Caches an answer the slice already committed with its change.</summary>
    public void CacheCompleted(IdempotencyClaim claim, StoredResponse response) =>
        Cache(claim.MerchantId, claim.KeyDigest, claim.Fingerprint, response, claim.ExpiresAt);

    /// <summary>Frees the key (the answer is not one to keep: 400, 401, 429, 5xx).</summary>
    public async Task ReleaseAsync(IdempotencyClaim claim, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "DELETE FROM idempotency.requests WHERE merchant_id = $1 AND idem_key = $2 AND lease_token = $3 AND state = 'in_progress'");
        cmd.Parameters.Add(new() { Value = claim.MerchantId });
        cmd.Parameters.Add(new() { Value = claim.KeyDigest });
        cmd.Parameters.Add(new() { Value = claim.LeaseToken });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Deletes keys past their retention. Returns how many.</summary>
    public async Task<int> PurgeExpiredAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            DELETE FROM idempotency.requests WHERE ctid IN
              (SELECT ctid FROM idempotency.requests WHERE expires_at <= $1 LIMIT 10000)
            """);
        cmd.Parameters.Add(new() { Value = clock.GetUtcNow(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static RedisKey CacheKey(string merchantId, string keyDigest) => "idem:" + merchantId + ":" + keyDigest;

    private async Task<(byte[] Fingerprint, StoredResponse Response)?> FromCacheAsync(string merchantId, string keyDigest)
    {
        try
        {
            var value = await redis.GetDatabase().StringGetAsync(CacheKey(merchantId, keyDigest));
            if (value.IsNullOrEmpty)
            {
                return null;
            }
            var entry = JsonSerializer.Deserialize<CacheEntry>((string)value!);
            return entry is null ? null : (entry.F, new StoredResponse(entry.S, entry.H, entry.B));
        }
        catch (Exception e) when (e is RedisException or TimeoutException or JsonException)
        {
            logger.LogWarning("Idempotency cache unavailable; using PostgreSQL: {Error}", e.GetType().Name);
            return null;
        }
    }

    /// <summary>
    /// Sent without waiting for Redis's reply: the answer is already durable in PostgreSQL, so a write the cache
    /// loses costs one PostgreSQL read on a later replay, while waiting for it cost every request a round trip.
    /// </summary>
    private void Cache(string merchantId, string keyDigest, byte[] fingerprint, StoredResponse response, DateTimeOffset expiresAt)
    {
        var ttl = expiresAt - clock.GetUtcNow();
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }
        try
        {
            var json = JsonSerializer.Serialize(new CacheEntry(fingerprint, response.Status,
                new Dictionary<string, string>(response.Headers), response.Body));
            redis.GetDatabase().StringSet(CacheKey(merchantId, keyDigest), json, ttl, flags: CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning("Idempotency cache unavailable; answer kept in PostgreSQL only: {Error}", e.GetType().Name);
        }
    }

    private sealed record CacheEntry(byte[] F, int S, Dictionary<string, string> H, byte[] B);
}
