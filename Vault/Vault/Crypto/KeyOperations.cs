using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Audit;

namespace Payments.Vault.Crypto;

/// <summary>
/// Key rotation, rewrap and revocation of the Data Protection keys that encrypt card data. A new key becomes the
/// default at once; older keys still decrypt; rewrap re-encrypts every card still on an older key under the current
/// one (in batches, each with its audit row); a key with no card left on it can be revoked.
/// </summary>
internal sealed class KeyOperations(
    IKeyManager keys,
    CardKeyRing ring,
    CardCipher cipher,
    NpgsqlDataSource db,
    AuditLog audit,
    TimeProvider clock,
    IOptions<VaultOptions> options)
{
    /// <summary>The key new ciphertexts are made with now.</summary>
    public Guid CurrentKeyId() => ring.Current.KeyId;

    public async Task<IReadOnlyList<KeyInfo>> ListAsync(CancellationToken ct)
    {
        var counts = await CountsAsync(ct);
        var current = CurrentKeyId();
        return keys.GetAllKeys()
            .OrderBy(k => k.CreationDate)
            .Select(k => new KeyInfo(k.KeyId, k.CreationDate, k.ActivationDate, k.ExpirationDate, k.IsRevoked,
                k.KeyId == current, counts.GetValueOrDefault(k.KeyId)))
            .ToList();
    }

    public Guid Rotate()
    {
        var now = clock.GetUtcNow();
        // The key row and its audit row are written together by the repository.
        var key = keys.CreateNewKey(now, now + options.Value.KeyLifetime);
        ring.Invalidate();
        return key.KeyId;
    }

    /// <summary>
    /// Re-encrypts every card not on the current key, or still a v1 payload (no merchant data key), under the current
    /// key. Walks the cards once in token order (keyset pagination), a batch per transaction with its audit row, and
    /// always finishes: a card it cannot read is left as it is and reported, never stopping the rest (docs/adr/0130).
    /// </summary>
    public async Task<RewrapReport> RewrapAsync(int batchSize, CancellationToken ct)
    {
        var current = CurrentKeyId();
        var total = 0;
        var unreadable = new List<string>();
        var after = "";
        while (true)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            var rows = new List<(string Token, string Merchant, Guid KeyId, byte[] Ciphertext)>();
            await using (var select = new NpgsqlCommand(
                "SELECT token, merchant_id, key_id, ciphertext FROM vault.cards WHERE token > $3 AND (key_id <> $1 OR dek_id IS NULL) ORDER BY token LIMIT $2 FOR UPDATE",
                conn, tx))
            {
                select.Parameters.Add(new() { Value = current });
                select.Parameters.Add(new() { Value = batchSize });
                select.Parameters.Add(new() { Value = after });
                await using var r = await select.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct))
                {
                    rows.Add((r.GetString(0), r.GetString(1), r.GetGuid(2), (byte[])r[3]));
                }
            }
            if (rows.Count == 0)
            {
                return new RewrapReport(total, unreadable.Count, unreadable);
            }
            after = rows[^1].Token;
            var done = 0;
            var failed = new List<string>();
            foreach (var row in rows)
            {
                byte[] plaintext;
                try
                {
                    plaintext = await cipher.UnprotectAsync(row.Merchant, row.Token, row.Ciphertext, ct);
                }
                catch (CryptographicException)
                {
                    failed.Add(row.Token);
                    continue; // left as it is and reported; revoke and destroy refuse while it remains on its key
                }
                var fresh = await cipher.ProtectAsync(row.Merchant, row.Token, plaintext, ct);
                CryptographicOperations.ZeroMemory(plaintext);
                await using var update = new NpgsqlCommand(
                    "UPDATE vault.cards SET ciphertext = $2, key_id = $3, rewrapped_at = now() WHERE token = $1", conn, tx);
                update.Parameters.Add(new() { Value = row.Token });
                update.Parameters.Add(new() { Value = fresh });
                update.Parameters.Add(new() { Value = CardCipher.KeyIdOf(fresh) });
                await update.ExecuteNonQueryAsync(ct);
                done++;
            }
            await audit.AppendAsync(conn, tx, "keys.rewrap", null, current.ToString(), new Dictionary<string, object?>
            {
                ["rewrapped"] = done, ["unreadable"] = failed.Count, ["unreadable_tokens"] = failed,
            }, ct);
            await tx.CommitAsync(ct);
            total += done;
            unreadable.AddRange(failed);
        }
    }

    /// <summary>
    /// <c>vault keys min-decryption KEY_ID</c>: cards on keys created before this one stop decrypting (rewrap first);
    /// setting an older key again restores them. Returns how many cards are below the new minimum.
    /// </summary>
    public async Task<long> SetMinimumDecryptionKeyAsync(Guid keyId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long below;
        await using (var cmd = new NpgsqlCommand("SELECT vault.set_card_key_min_decryption($1)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = keyId });
            below = (long)(await cmd.ExecuteScalarAsync(ct))!;
        }
        await audit.AppendAsync(conn, tx, "keys.min_decryption", null, keyId.ToString(), new Dictionary<string, object?>
        {
            ["cards_below"] = below,
        }, ct);
        await tx.CommitAsync(ct);
        ring.Invalidate();
        return below;
    }

    /// <summary>
    /// <c>vault keys destroy KEY_ID</c>: removes a card key's material, keeping its row as a tombstone, audited. The
    /// function refuses (as <see cref="PostgresException"/>) a key any card still uses, or one neither revoked nor
    /// below the minimum decryption key.
    /// </summary>
    public async Task DestroyAsync(Guid keyId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("SELECT vault.destroy_card_key($1)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = keyId });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await audit.AppendAsync(conn, tx, "key.destroyed", null, keyId.ToString(), new Dictionary<string, object?>(), ct);
        await tx.CommitAsync(ct);
        ring.Invalidate();
    }

    /// <summary>Revokes a key; refused while cards remain on it, unless forced (those cards then stop decrypting).</summary>
    public async Task<(bool Revoked, long Remaining)> RevokeAsync(Guid keyId, bool force, CancellationToken ct)
    {
        var remaining = (await CountsAsync(ct)).GetValueOrDefault(keyId);
        if (remaining > 0 && !force)
        {
            return (false, remaining);
        }
        if (keys.GetAllKeys().All(k => k.KeyId != keyId))
        {
            throw new ArgumentException("No such key.", nameof(keyId));
        }
        keys.RevokeKey(keyId, "Revoked by the Vault operator after rewrap.");
        ring.Invalidate();
        return (true, remaining);
    }

    public async Task<Dictionary<Guid, long>> CountsAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT key_id, count(*) FROM vault.cards GROUP BY key_id");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var counts = new Dictionary<Guid, long>();
        while (await r.ReadAsync(ct))
        {
            counts[r.GetGuid(0)] = r.GetInt64(1);
        }
        return counts;
    }
}

internal sealed record RewrapReport(int Rewrapped, int Unreadable, IReadOnlyList<string> UnreadableTokens);

internal sealed record KeyInfo(Guid KeyId, DateTimeOffset Created, DateTimeOffset Activation, DateTimeOffset Expiration,
    bool Revoked, bool Current, long Cards);
