using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;

namespace Payments.Vault.Crypto;

/// <summary>
/// Encrypts card data with Data Protection (AES-256-GCM) under the purpose chain (card.v1, merchant, token):
/// a ciphertext copied to another row, merchant or token does not decrypt.
/// </summary>
internal sealed class CardCipher(IDataProtectionProvider provider)
{
    private const string Purpose = "card.v1";

    public byte[] Protect(string merchantId, string token, byte[] plaintext) =>
        provider.CreateProtector(Purpose, merchantId, token).Protect(plaintext);

    /// <summary>Throws <see cref="CryptographicException"/> when the ciphertext was altered or belongs elsewhere.</summary>
    public byte[] Unprotect(string merchantId, string token, byte[] ciphertext, out bool requiresMigration)
    {
        var protector = (IPersistedDataProtector)provider.CreateProtector(Purpose, merchantId, token);
        return protector.DangerousUnprotect(ciphertext, ignoreRevocationErrors: false, out requiresMigration, out _);
    }

    /// <summary>The id of the key a Data Protection payload was made with (after its 4-byte magic header).</summary>
    public static Guid KeyIdOf(byte[] ciphertext) =>
        ciphertext.Length >= 20 ? new Guid(ciphertext.AsSpan(4, 16)) : Guid.Empty;
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
