using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Payments.Vault.Crypto;

/// <summary>A key unwrapped from <c>vault.wrapped_keys</c>.</summary>
internal sealed record UnwrappedKey(Guid Id, string Purpose, string Scope, int Version, byte[] Key);

/// <summary>A row of <c>vault.wrapped_keys</c>; <see cref="Wrapped"/> is null once the key is destroyed.</summary>
internal sealed record WrappedKeyRow(Guid Id, string Purpose, string Scope, int Version, int KekVersion, byte[]? Wrapped, string Kcv);

/// <summary>
/// Keys the Vault holds wrapped under the KEK (docs/adr/0125): AES-256-GCM under a KEK-derived wrapping key, the
/// additional data binding id, purpose, scope, version and KEK version, so a wrapped key copied to another row or
/// left under another KEK version does not unwrap. Each row keeps the key's check value, verified on every unwrap.
/// Rows are append-only for the serving role; only the key administration functions rewrap or destroy them.
/// </summary>
internal sealed class WrappedKeys(NpgsqlDataSource db, Kek kek)
{
    public const string AuditMac = "audit-mac";
    public const string FingerprintRoot = "fingerprint-root";
    public const string MerchantDek = "merchant-dek";

    private const string Columns = "id, purpose, scope, version, kek_version, wrapped, check_value";

    // Each lookup has one body for both callers (Npgsql's own pattern): card uses await it, so a lookup never blocks
    // a thread-pool thread on the database; start-up and rare readers (the audit key, the fingerprint root) call the
    // synchronous form, which completes without awaiting anything.

    /// <summary>The newest live version for (purpose, scope), or null when there is none.</summary>
    public UnwrappedKey? Latest(string purpose, string scope) => Sync(LatestAsync(false, purpose, scope, default));

    /// <summary>One version; null when unknown or destroyed.</summary>
    public UnwrappedKey? Get(string purpose, string scope, int version) =>
        Sync(ReadAsync(false, $"SELECT {Columns} FROM vault.wrapped_keys WHERE purpose = $1 AND scope = $2 AND version = $3",
            [purpose, scope, version], default));

    /// <summary>A key by id; null when unknown or destroyed.</summary>
    public Task<UnwrappedKey?> FindAsync(Guid id, CancellationToken ct) =>
        ReadAsync(true, $"SELECT {Columns} FROM vault.wrapped_keys WHERE id = $1", [id], ct).AsTask();

    /// <summary>The newest live version, or a first (or next) version made from <paramref name="material"/>.</summary>
    public UnwrappedKey GetOrCreate(string purpose, string scope, Func<byte[]> material) =>
        Sync(GetOrCreateAsync(false, purpose, scope, material, default));

    /// <inheritdoc cref="GetOrCreate"/>
    public Task<UnwrappedKey> GetOrCreateAsync(string purpose, string scope, Func<byte[]> material, CancellationToken ct) =>
        GetOrCreateAsync(true, purpose, scope, material, ct).AsTask();

    private ValueTask<UnwrappedKey?> LatestAsync(bool async, string purpose, string scope, CancellationToken ct) =>
        ReadAsync(async,
            $"SELECT {Columns} FROM vault.wrapped_keys WHERE purpose = $1 AND scope = $2 AND destroyed_at IS NULL ORDER BY version DESC LIMIT 1",
            [purpose, scope], ct);

    private async ValueTask<UnwrappedKey> GetOrCreateAsync(bool async, string purpose, string scope, Func<byte[]> material, CancellationToken ct)
    {
        if (await LatestAsync(async, purpose, scope, ct) is { } existing)
        {
            return existing;
        }
        var key = material();
        var id = Guid.NewGuid();
        // The next version after any destroyed ones; another process creating it at once wins and is used instead.
        using (var next = db.CreateCommand("SELECT coalesce(max(version), 0) + 1 FROM vault.wrapped_keys WHERE purpose = $1 AND scope = $2"))
        {
            next.Parameters.Add(new() { Value = purpose });
            next.Parameters.Add(new() { Value = scope });
            var version = (int)(async ? await next.ExecuteScalarAsync(ct) : next.ExecuteScalar())!;
            using var cmd = db.CreateCommand("""
                INSERT INTO vault.wrapped_keys (id, purpose, scope, version, kek_version, wrapped, check_value)
                VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (purpose, scope, version) DO NOTHING
                """);
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = purpose });
            cmd.Parameters.Add(new() { Value = scope });
            cmd.Parameters.Add(new() { Value = version });
            cmd.Parameters.Add(new() { Value = kek.Version });
            cmd.Parameters.Add(new() { Value = Wrap(kek, kek.Version, id, purpose, scope, version, key) });
            cmd.Parameters.Add(new() { Value = KeyCheck.Of(key) });
            _ = async ? await cmd.ExecuteNonQueryAsync(ct) : cmd.ExecuteNonQuery();
        }
        CryptographicOperations.ZeroMemory(key);
        return await LatestAsync(async, purpose, scope, ct) ?? throw new CryptographicException($"The {purpose} key could not be created.");
    }

    private async ValueTask<UnwrappedKey?> ReadAsync(bool async, string sql, object[] args, CancellationToken ct)
    {
        using var cmd = db.CreateCommand(sql);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new() { Value = a });
        }
        var r = async ? await cmd.ExecuteReaderAsync(ct) : cmd.ExecuteReader();
        try
        {
            if (!(async ? await r.ReadAsync(ct) : r.Read()))
            {
                return null;
            }
            var row = ReadRow(r);
            return row.Wrapped is null ? null : new UnwrappedKey(row.Id, row.Purpose, row.Scope, row.Version, Unwrap(kek, row));
        }
        finally
        {
            // Disposing reads the rest of the answer: awaited only on the asynchronous path.
            if (async)
            {
                await r.DisposeAsync();
            }
            else
            {
                r.Dispose();
            }
        }
    }

    /// <summary>The result of a lookup run with async: false, which completed without awaiting.</summary>
    private static T Sync<T>(ValueTask<T> task) =>
        task.IsCompleted ? task.GetAwaiter().GetResult() : throw new InvalidOperationException("A synchronous key lookup awaited.");

    public static WrappedKeyRow ReadRow(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetInt32(4), r.IsDBNull(5) ? null : (byte[])r[5], r.GetString(6));

    /// <summary>nonce (12) ‖ tag (16) ‖ ciphertext (32).</summary>
    public static byte[] Wrap(Kek kek, int kekVersion, Guid id, string purpose, string scope, int version, byte[] key)
    {
        var wrappingKey = kek.Derive("wrapped-keys-v1");
        var output = new byte[28 + key.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using (var aes = new AesGcm(wrappingKey, 16))
        {
            aes.Encrypt(output.AsSpan(0, 12), key, output.AsSpan(28), output.AsSpan(12, 16), Aad(id, purpose, scope, version, kekVersion));
        }
        CryptographicOperations.ZeroMemory(wrappingKey);
        return output;
    }

    /// <summary>Throws <see cref="CryptographicException"/> when the row was altered, moved, or is under another KEK.</summary>
    public static byte[] Unwrap(Kek kek, WrappedKeyRow row)
    {
        if (row.Wrapped is not { Length: > 28 } wrapped)
        {
            throw new CryptographicException($"Key {row.Id} is destroyed.");
        }
        var wrappingKey = kek.Derive("wrapped-keys-v1");
        var key = new byte[wrapped.Length - 28];
        try
        {
            using var aes = new AesGcm(wrappingKey, 16);
            aes.Decrypt(wrapped.AsSpan(0, 12), wrapped.AsSpan(28), wrapped.AsSpan(12, 16), key,
                Aad(row.Id, row.Purpose, row.Scope, row.Version, row.KekVersion));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(wrappingKey);
        }
        if (KeyCheck.Of(key) != row.Kcv)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new CryptographicException($"Key {row.Id} does not match its check value.");
        }
        return key;
    }

    private static byte[] Aad(Guid id, string purpose, string scope, int version, int kekVersion) =>
        Encoding.UTF8.GetBytes($"wrapped-key.v1\0{id:N}\0{purpose}\0{scope}\0{version}\0kek:{kekVersion}");
}
