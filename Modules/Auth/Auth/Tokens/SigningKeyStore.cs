using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Ids;

namespace Payments.Auth.Tokens;

internal sealed record SigningKey(string Kid, ECDsa PublicKey, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt);

/// <summary>
/// The ES256 keys in <c>auth.signing_keys</c>, cached. One key signs at a time, from its <c>signs_from</c> until its
/// <c>retired_at</c>; a rotation publishes the next key <see cref="PublishLead"/> before it signs, so a verifier that
/// cached the JWKS holds it in time. Retired keys keep verifying for as long as a token they signed can live, so
/// rotation never cuts off an unexpired token. An unknown kid reloads the cache,
/// at most once a second, so a key made by another instance (or the <c>keys rotate</c> verb) is picked up.
/// A key whose row is gone (or changed) is no longer found after the next reload, and with it every token it signed,
/// cached or not (<see cref="VerifiedTokenCache"/>).
/// </summary>
internal sealed class SigningKeyStore(NpgsqlDataSource db, KeyEncryption encryption, TimeProvider clock, IOptions<AuthOptions> options) : IDisposable
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MinReloadGap = TimeSpan.FromSeconds(1);
    private readonly SemaphoreSlim gate = new(1, 1);
    private volatile Snapshot? snapshot;

    /// <summary>How long verifiers may cache <c>/.well-known/jwks.json</c> (its <c>Cache-Control</c> max-age).</summary>
    public static readonly TimeSpan JwksMaxAge = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a rotated-in key is published before it signs: the JWKS max-age, one cache refresh of the Hosts, and a
    /// margin for a verifier's clock.
    /// </summary>
    public static readonly TimeSpan PublishLead = JwksMaxAge + RefreshEvery + TimeSpan.FromSeconds(30);

    private sealed record Signer(string Kid, ECDsa PrivateKey, DateTimeOffset SignsFrom, DateTimeOffset? RetiredAt);

    private sealed record Snapshot(IReadOnlyDictionary<string, SigningKey> Keys, IReadOnlyList<Signer> Signers, long LoadedAtTicks)
    {
        /// <summary>The key that signs at <paramref name="now"/>: the latest to start; else (its predecessor withdrawn) the next to.</summary>
        public Signer? At(DateTimeOffset now)
        {
            var live = Signers.Where(k => k.RetiredAt is not { } r || r > now).ToList();
            return live.Where(k => k.SignsFrom <= now).MaxBy(k => k.SignsFrom) ?? live.MinBy(k => k.SignsFrom);
        }
    }

    /// <summary>How long after retirement a key still verifies: the longest token life, the skew and one cache refresh.</summary>
    private TimeSpan Retention => options.Value.TokenLifetime + options.Value.ClockSkew + RefreshEvery + TimeSpan.FromMinutes(1);

    public async Task<(string Kid, ECDsa PrivateKey)> GetSigningKeyAsync(CancellationToken ct)
    {
        var s = await CurrentAsync(ct);
        if (s.At(clock.GetUtcNow()) is null)
        {
            await CreateFirstKeyAsync(ct);
            s = await ReloadAsync(ct);
        }
        var signer = s.At(clock.GetUtcNow()) ?? throw new InvalidOperationException("No signing key after creating one.");
        return (signer.Kid, signer.PrivateKey);
    }

    public async Task<SigningKey?> FindAsync(string kid, CancellationToken ct)
    {
        var s = await CurrentAsync(ct);
        if (!s.Keys.TryGetValue(kid, out var key)
            && Environment.TickCount64 - s.LoadedAtTicks > (long)MinReloadGap.TotalMilliseconds)
        {
            s = await ReloadAsync(ct);
            s.Keys.TryGetValue(kid, out key);
        }
        return key is not null && IsPublished(key) ? key : null;
    }

    public async Task<IReadOnlyList<SigningKey>> PublishedAsync(CancellationToken ct)
    {
        var s = await CurrentAsync(ct);
        if (s.At(clock.GetUtcNow()) is null)
        {
            await CreateFirstKeyAsync(ct);
            s = await ReloadAsync(ct);
        }
        return s.Keys.Values.Where(IsPublished).OrderByDescending(k => k.CreatedAt).ToList();
    }

    /// <summary>
    /// Makes a new key that signs from <paramref name="immediately"/> ? now : now + <see cref="PublishLead"/>, and retires
    /// every key that would sign after that instant. Returns (new kid, the kid signing now, when the new one signs).
    /// </summary>
    public async Task<(string Kid, string? RetiredKid, DateTimeOffset SignsFrom)> RotateAsync(bool immediately, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var signsFrom = immediately ? now : now + PublishLead;
        var signingNow = (await ReloadAsync(ct)).At(now)?.Kid;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // A key still waiting for its turn is retired as that turn starts: it never signs.
        await using (var cmd = new NpgsqlCommand(
            "UPDATE auth.signing_keys SET retired_at = GREATEST($1, signs_from) WHERE retired_at IS NULL OR retired_at > $1", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = signsFrom });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        var kid = await InsertKeyAsync(conn, tx, now, signsFrom, ct);
        await tx.CommitAsync(ct);
        await ReloadAsync(ct);
        return (kid, signingNow, signsFrom);
    }

    public async Task ReloadNowAsync(CancellationToken ct) => await ReloadAsync(ct);

    public void Dispose() => gate.Dispose();

    private bool IsPublished(SigningKey key) =>
        key.RetiredAt is not { } retired || retired + Retention > clock.GetUtcNow();

    private async Task<Snapshot> CurrentAsync(CancellationToken ct)
    {
        var s = snapshot;
        if (s is not null && Environment.TickCount64 - s.LoadedAtTicks < (long)RefreshEvery.TotalMilliseconds)
        {
            return s;
        }
        return await ReloadAsync(ct);
    }

    private async Task<Snapshot> ReloadAsync(CancellationToken ct)
    {
        var before = snapshot;
        await gate.WaitAsync(ct);
        try
        {
            // Another caller reloaded while this one waited.
            if (!ReferenceEquals(before, snapshot) && snapshot is not null)
            {
                return snapshot;
            }
            var known = snapshot?.Keys;
            var keys = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
            var signers = new List<Signer>();
            var now = clock.GetUtcNow();
            await using var cmd = db.CreateCommand(
                "SELECT kid, public_key, private_key_encrypted, created_at, retired_at, signs_from FROM auth.signing_keys WHERE retired_at IS NULL OR retired_at > $1");
            cmd.Parameters.Add(new() { Value = now - Retention });
            await using (var r = await cmd.ExecuteReaderAsync(ct))
            {
                while (await r.ReadAsync(ct))
                {
                    var kid = r.GetString(0);
                    var spki = (byte[])r[1];
                    DateTimeOffset? retiredAt = r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4);
                    var signsFrom = r.GetFieldValue<DateTimeOffset>(5);
                    SigningKey? same = null;
                    var samePublicKey = known is not null && known.TryGetValue(kid, out same)
                        && same.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(spki);
                    // The same instance while its row is unchanged: the verified-token cache trusts an entry only
                    // while FindAsync still returns the instance that verified it.
                    if (samePublicKey && same!.RetiredAt == retiredAt)
                    {
                        keys[kid] = same;
                    }
                    else
                    {
                        var pub = ECDsa.Create();
                        pub.ImportSubjectPublicKeyInfo(spki, out _);
                        keys[kid] = new SigningKey(kid, pub, r.GetFieldValue<DateTimeOffset>(3), retiredAt);
                    }
                    if (retiredAt is not null && retiredAt <= now)
                    {
                        continue;
                    }
                    // The private key is decrypted once per key, not on every refresh.
                    if (samePublicKey && snapshot!.Signers.FirstOrDefault(k => k.Kid == kid) is { } loaded)
                    {
                        signers.Add(loaded with { SignsFrom = signsFrom, RetiredAt = retiredAt });
                        continue;
                    }
                    var privateKey = ECDsa.Create();
                    var pkcs8 = encryption.Decrypt(kid, (byte[])r[2]);
                    privateKey.ImportPkcs8PrivateKey(pkcs8, out _);
                    CryptographicOperations.ZeroMemory(pkcs8);
                    signers.Add(new Signer(kid, privateKey, signsFrom, retiredAt));
                }
            }
            snapshot = new Snapshot(keys, signers, Environment.TickCount64);
            return snapshot;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task CreateFirstKeyAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        try
        {
            var now = clock.GetUtcNow();
            await InsertKeyAsync(conn, tx, now, now, ct);
            await tx.CommitAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Another instance made the first key at the same moment: use theirs.
        }
    }

    private async Task<string> InsertKeyAsync(NpgsqlConnection conn, NpgsqlTransaction tx, DateTimeOffset now, DateTimeOffset signsFrom, CancellationToken ct)
    {
        var kid = PrefixedId.New("key");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pkcs8 = key.ExportPkcs8PrivateKey();
        var sealedKey = encryption.Encrypt(kid, pkcs8);
        CryptographicOperations.ZeroMemory(pkcs8);
        await using var cmd = new NpgsqlCommand(
            "INSERT INTO auth.signing_keys (kid, algorithm, public_key, private_key_encrypted, created_at, signs_from) VALUES ($1, 'ES256', $2, $3, $4, $5)",
            conn, tx);
        cmd.Parameters.Add(new() { Value = kid });
        cmd.Parameters.Add(new() { Value = key.ExportSubjectPublicKeyInfo() });
        cmd.Parameters.Add(new() { Value = sealedKey });
        cmd.Parameters.Add(new() { Value = now });
        cmd.Parameters.Add(new() { Value = signsFrom });
        await cmd.ExecuteNonQueryAsync(ct);
        return kid;
    }
}
