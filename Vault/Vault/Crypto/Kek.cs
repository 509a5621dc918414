using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Payments.Vault.Crypto;

/// <summary>
/// The key-encryption key: the XOR of several full-length components, so no single holder knows it.
/// Only derived keys leave this class; the KEK itself encrypts nothing directly.
/// </summary>
internal sealed class Kek
{
    private readonly byte[] kek;

    public Kek(IOptions<VaultOptions> options)
    {
        var components = options.Value.Kek.Components;
        if (components.Count < 2)
        {
            throw new InvalidOperationException(
                "Vault:Kek:Components must hold at least two base64 components of 32 bytes: the Vault will not store keys unencrypted.");
        }
        kek = new byte[32];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var component in components)
        {
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(component);
            }
            catch (FormatException)
            {
                throw new InvalidOperationException("A Vault:Kek:Components entry is not base64.");
            }
            if (bytes.Length != 32)
            {
                throw new InvalidOperationException("Every Vault:Kek:Components entry must be 32 bytes.");
            }
            if (!seen.Add(component))
            {
                throw new InvalidOperationException("Two Vault:Kek:Components entries are equal: their XOR would cancel out.");
            }
            for (var i = 0; i < 32; i++)
            {
                kek[i] ^= bytes[i];
            }
        }
        if (kek.All(b => b == 0))
        {
            throw new InvalidOperationException("The Vault KEK is all zeros.");
        }
    }

    /// <summary>A key for one use, derived with HKDF-SHA256 so uses never share key material.</summary>
    public byte[] Derive(string purpose) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, kek, 32, salt: Encoding.UTF8.GetBytes("payments-vault-kek-v1"),
            info: Encoding.UTF8.GetBytes(purpose));
}
