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
internal sealed class CardKeyRing(IKeyManager keys, TimeProvider clock, IOptions<VaultOptions> options)
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
            snapshot = s = new Snapshot(current, all.ToDictionary(k => k.KeyId), now);
            return s;
        }
    }

    private static IKey? Pick(IReadOnlyCollection<IKey> all, DateTimeOffset now) =>
        all.Where(k => !k.IsRevoked && k.ActivationDate <= now && k.ExpirationDate > now)
            .OrderByDescending(k => k.ActivationDate).ThenByDescending(k => k.CreationDate)
            .FirstOrDefault();

    private sealed class Snapshot(IKey current, Dictionary<Guid, IKey> byId, DateTimeOffset loadedAt)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, IAuthenticatedEncryptor> encryptors = new();

        public IKey Current { get; } = current;
        public Dictionary<Guid, IKey> ById { get; } = byId;
        public DateTimeOffset LoadedAt { get; } = loadedAt;

        public IAuthenticatedEncryptor Encryptor(IKey key) => encryptors.GetOrAdd(key.KeyId, _ =>
            key.CreateEncryptor() ?? throw new CryptographicException("The key cannot make an encryptor."));
    }
}

/// <summary>
/// Encrypts card data with a Data Protection key's AES-256-GCM authenticated encryptor. The purpose chain
/// (<c>card.v1</c>, merchant, token) and the key id are the additional authenticated data, from which Data Protection
/// also derives the per-payload subkey: a ciphertext copied to another row, merchant or token does not decrypt.
/// Payload: version byte 1, the 16-byte key id, then the encryptor's output.
/// </summary>
internal sealed class CardCipher(CardKeyRing ring)
{
    private const byte Version = 1;

    public byte[] Protect(string merchantId, string token, byte[] plaintext)
    {
        var key = ring.Current;
        var sealedBytes = ring.EncryptorFor(key).Encrypt(new ArraySegment<byte>(plaintext), Aad(merchantId, token, key.KeyId));
        var payload = new byte[17 + sealedBytes.Length];
        payload[0] = Version;
        key.KeyId.TryWriteBytes(payload.AsSpan(1, 16));
        sealedBytes.CopyTo(payload, 17);
        return payload;
    }

    /// <summary>Throws <see cref="CryptographicException"/> when the ciphertext was altered, belongs elsewhere or its key is revoked.</summary>
    public byte[] Unprotect(string merchantId, string token, byte[] ciphertext, out bool requiresMigration)
    {
        if (ciphertext.Length < 18 || ciphertext[0] != Version)
        {
            throw new CryptographicException("Unknown card payload.");
        }
        var keyId = KeyIdOf(ciphertext);
        var key = ring.Find(keyId) ?? throw new CryptographicException("The card's key is not in the key ring.");
        if (key.IsRevoked)
        {
            throw new CryptographicException("The card's key is revoked.");
        }
        requiresMigration = keyId != ring.Current.KeyId;
        return ring.EncryptorFor(key).Decrypt(new ArraySegment<byte>(ciphertext, 17, ciphertext.Length - 17), Aad(merchantId, token, keyId));
    }

    /// <summary>The id of the key a card payload was made with.</summary>
    public static Guid KeyIdOf(byte[] ciphertext) =>
        ciphertext.Length >= 17 ? new Guid(ciphertext.AsSpan(1, 16)) : Guid.Empty;

    private static ArraySegment<byte> Aad(string merchantId, string token, Guid keyId) =>
        new(Encoding.UTF8.GetBytes($"card.v1\0{merchantId}\0{token}\0{keyId:N}"));
}

/// <summary>
/// Per-merchant card fingerprints: HMAC-SHA256 of the number under a key derived with HKDF from a KEK-derived root
/// and the merchant id, so the same card is recognizable within one merchant and unlinkable across merchants.
/// </summary>
internal sealed class Fingerprints(Kek kek)
{
    private readonly byte[] root = kek.Derive("card-fingerprint-root-v1");

    public string Of(string merchantId, string number)
    {
        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, root, 32, salt: [], info: Encoding.UTF8.GetBytes("merchant:" + merchantId));
        var mac = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(number));
        CryptographicOperations.ZeroMemory(key);
        return Convert.ToBase64String(mac, 0, 16).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }
}
