using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace Payments.Vault.Crypto;

/// <summary>
/// The Data Protection keys that encrypt cards, chosen by the Vault's own policy: the newest active, unrevoked key
/// is current at once (Data Protection's resolver would hold a new key back for two days of propagation). Reloaded
/// every minute and whenever a ciphertext names a key it does not know, so keys made by the operator verb in another
/// process are picked up. See docs/adr/0020.
/// </summary>
internal sealed class CardKeyRing(IKeyManager keys, TimeProvider clock, IOptions<VaultOptions> options, Npgsql.NpgsqlDataSource db)
{
    private readonly Lock gate = new();
    private Snapshot? snapshot;
    private DateTimeOffset lastForcedReload;

    public IKey Current => Get().Current;

    public IAuthenticatedEncryptor EncryptorFor(IKey key) => Get().Encryptor(key);

    /// <summary>The key with this id, reloading once (at most once a second) when it is not known.</summary>
    public IKey? Find(Guid keyId)
    {
        var s = Get();
        if (s.ById.TryGetValue(keyId, out var key))
        {
            return key;
        }
        lock (gate)
        {
            if (clock.GetUtcNow() - lastForcedReload < TimeSpan.FromSeconds(1))
            {
                return null;
            }
            lastForcedReload = clock.GetUtcNow();
            snapshot = null;
        }
        return Get().ById.GetValueOrDefault(keyId);
    }

    /// <summary>
    /// Created before the minimum decryption key (<c>vault keys min-decryption</c>): it no longer decrypts. Seen by
    /// other processes at their next reload (a minute at most; at once in the process that set it).
    /// </summary>
    public bool IsBelowMinimum(IKey key) => Get().MinimumCreation is { } min && key.CreationDate < min;

    public void Invalidate()
    {
        lock (gate)
        {
            snapshot = null;
        }
    }

    private Snapshot Get()
    {
        var s = snapshot;
        var now = clock.GetUtcNow();
        if (s is not null && now - s.LoadedAt < TimeSpan.FromMinutes(1) && s.Current.ExpirationDate > now)
        {
            return s;
        }
        lock (gate)
        {
            s = snapshot;
            if (s is not null && now - s.LoadedAt < TimeSpan.FromMinutes(1) && s.Current.ExpirationDate > now)
            {
                return s;
            }
            var all = keys.GetAllKeys();
            var current = Pick(all, now);
            if (current is null)
            {
                keys.CreateNewKey(now, now + options.Value.KeyLifetime);
                all = keys.GetAllKeys();
                current = Pick(all, now) ?? throw new InvalidOperationException("No usable Data Protection key.");
            }
            var byId = all.ToDictionary(k => k.KeyId);
            snapshot = s = new Snapshot(current, byId, now, MinimumKey() is { } min && byId.TryGetValue(min, out var m) ? m.CreationDate : null);
            return s;
        }
    }

    private Guid? MinimumKey()
    {
        using var cmd = db.CreateCommand("SELECT min_decryption_key FROM vault.card_key_policy");
        return cmd.ExecuteScalar() is Guid id ? id : null;
    }

    private static IKey? Pick(IReadOnlyCollection<IKey> all, DateTimeOffset now) =>
        all.Where(k => !k.IsRevoked && k.ActivationDate <= now && k.ExpirationDate > now)
            .OrderByDescending(k => k.ActivationDate).ThenByDescending(k => k.CreationDate)
            .FirstOrDefault();

    private sealed class Snapshot(IKey current, Dictionary<Guid, IKey> byId, DateTimeOffset loadedAt, DateTimeOffset? minimumCreation)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, IAuthenticatedEncryptor> encryptors = new();

        public IKey Current { get; } = current;
        public Dictionary<Guid, IKey> ById { get; } = byId;
        public DateTimeOffset LoadedAt { get; } = loadedAt;
        public DateTimeOffset? MinimumCreation { get; } = minimumCreation;

        public IAuthenticatedEncryptor Encryptor(IKey key) => encryptors.GetOrAdd(key.KeyId, _ =>
            key.CreateEncryptor() ?? throw new CryptographicException("The key cannot make an encryptor."));
    }
}

/// <summary>
/// Encrypts card data in two layers (docs/adr/0129): inside, AES-256-GCM under the merchant's data key (a random key
/// per merchant, stored wrapped under the KEK; destroying it shreds that merchant's cards); outside, a Data Protection
/// key's AES-256-GCM authenticated encryptor, so Data Protection key rotation, rewrap and revocation work as before.
/// The purpose chain (<c>card.v2</c>, merchant, token, both key ids) is the additional authenticated data of both
/// layers: a ciphertext copied to another row, merchant or token does not decrypt.
/// Payload v2: version byte 2, the Data Protection key id (16 bytes), the merchant key id (16 bytes, big-endian, which
/// the <c>cards.dek_id</c> column reads), then the Data Protection encryptor's output of
/// (nonce ‖ tag ‖ AES-GCM ciphertext). Payload v1 (no merchant key) still decrypts until rewrap moves it to v2.
/// </summary>
internal sealed class CardCipher(CardKeyRing ring, MerchantKeys merchants)
{
    private const byte V1 = 1;
    private const byte V2 = 2;
    private const int V2Header = 33;

    public async Task<byte[]> ProtectAsync(string merchantId, string token, byte[] plaintext, CancellationToken ct)
    {
        var dek = await merchants.CurrentForAsync(merchantId, ct);
        var key = ring.Current;
        var inner = new byte[28 + plaintext.Length];
        RandomNumberGenerator.Fill(inner.AsSpan(0, 12));
        var aad = AadV2(merchantId, token, key.KeyId, dek.Id);
        using (var aes = new AesGcm(dek.Key, 16))
        {
            aes.Encrypt(inner.AsSpan(0, 12), plaintext, inner.AsSpan(28), inner.AsSpan(12, 16), aad);
        }
        var sealedBytes = ring.EncryptorFor(key).Encrypt(new ArraySegment<byte>(inner), new ArraySegment<byte>(aad));
        CryptographicOperations.ZeroMemory(inner);
        var payload = new byte[V2Header + sealedBytes.Length];
        payload[0] = V2;
        key.KeyId.TryWriteBytes(payload.AsSpan(1, 16));
        dek.Id.TryWriteBytes(payload.AsSpan(17, 16), bigEndian: true, out _);
        sealedBytes.CopyTo(payload, V2Header);
        return payload;
    }

    /// <summary>
    /// Throws <see cref="CryptographicException"/> when the ciphertext was altered, belongs elsewhere, its key is revoked,
    /// destroyed or below the minimum decryption key, or its merchant's data key is destroyed.
    /// </summary>
    public async Task<byte[]> UnprotectAsync(string merchantId, string token, byte[] ciphertext, CancellationToken ct)
    {
        if (ciphertext.Length < 18 || ciphertext[0] is not (V1 or V2) || (ciphertext[0] == V2 && ciphertext.Length < V2Header + 1))
        {
            throw new CryptographicException("Unknown card payload.");
        }
        var keyId = KeyIdOf(ciphertext);
        var key = ring.Find(keyId) ?? throw new CryptographicException("The card's key is not in the key ring.");
        if (key.IsRevoked)
        {
            throw new CryptographicException("The card's key is revoked.");
        }
        if (ring.IsBelowMinimum(key))
        {
            throw new CryptographicException("The card's key is below the minimum decryption key: rewrap it first.");
        }
        if (ciphertext[0] == V1)
        {
            return ring.EncryptorFor(key).Decrypt(new ArraySegment<byte>(ciphertext, 17, ciphertext.Length - 17), AadV1(merchantId, token, keyId));
        }
        var dekId = new Guid(ciphertext.AsSpan(17, 16), bigEndian: true);
        var dek = await merchants.GetAsync(merchantId, dekId, ct);
        var aad = AadV2(merchantId, token, keyId, dekId);
        var inner = ring.EncryptorFor(key).Decrypt(new ArraySegment<byte>(ciphertext, V2Header, ciphertext.Length - V2Header), new ArraySegment<byte>(aad));
        try
        {
            if (inner.Length < 28)
            {
                throw new CryptographicException("Unknown card payload.");
            }
            var plaintext = new byte[inner.Length - 28];
            using var aes = new AesGcm(dek, 16);
            aes.Decrypt(inner.AsSpan(0, 12), inner.AsSpan(28), inner.AsSpan(12, 16), plaintext, aad);
            return plaintext;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(inner);
        }
    }

    /// <summary>The id of the Data Protection key a card payload was made with.</summary>
    public static Guid KeyIdOf(byte[] ciphertext) =>
        ciphertext.Length >= 17 ? new Guid(ciphertext.AsSpan(1, 16)) : Guid.Empty;

    private static ArraySegment<byte> AadV1(string merchantId, string token, Guid keyId) =>
        new(Encoding.UTF8.GetBytes($"card.v1\0{merchantId}\0{token}\0{keyId:N}"));

    private static byte[] AadV2(string merchantId, string token, Guid keyId, Guid dekId) =>
        Encoding.UTF8.GetBytes($"card.v2\0{merchantId}\0{token}\0{keyId:N}\0{dekId:N}");
}

/// <summary>
/// Per-merchant card fingerprints: HMAC-SHA256 of the number under a key derived with HKDF from the fingerprint root
/// and the merchant id, so the same card is recognizable within one merchant and unlinkable across merchants. The root
/// is a wrapped key (docs/adr/0127): on the first start after migration 0004 it is stored wrapped with the very bytes
/// the first KEK derived before, and from then on it is unwrapped, never derived, so no KEK rotation changes a
/// fingerprint.
/// </summary>
internal sealed class Fingerprints(WrappedKeys keys, Kek kek)
{
    private readonly Lazy<byte[]> root = new(() => keys.GetOrCreate(WrappedKeys.FingerprintRoot, "", () => kek.Version == 1
        ? kek.Derive("card-fingerprint-root-v1")
        : throw new CryptographicException("The fingerprint root is missing under a rotated KEK: it cannot be derived again.")).Key);

    public byte[] EnsureRoot() => root.Value;

    public string Of(string merchantId, string number)
    {
        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, root.Value, 32, salt: [], info: Encoding.UTF8.GetBytes("merchant:" + merchantId));
        var mac = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(number));
        CryptographicOperations.ZeroMemory(key);
        return Convert.ToBase64String(mac, 0, 16).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }
}
