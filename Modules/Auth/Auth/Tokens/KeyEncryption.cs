using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Hosting;

namespace Payments.Auth.Tokens;

/// <summary>
/// Encrypts signing keys' private halves at rest (AES-256-GCM, the kid as associated data) with
/// <c>Auth:KeyEncryptionKey</c>. Live mode refuses to run without it; sandbox falls back to a fixed, public
/// development key and says so, so a fresh checkout works (docs/adr/0010-auth-tokens-and-keys.md).
/// </summary>
internal sealed class KeyEncryption
{
    private readonly byte[] key;

    public KeyEncryption(IOptions<AuthOptions> options, IOptions<GatewayOptions> gateway, ILogger<KeyEncryption> logger) =>
        key = ConfiguredKeys.Read("Auth:KeyEncryptionKey", options.Value.KeyEncryptionKey, gateway.Value, logger,
            "signing keys are encrypted", "payments-sandbox-auth-key-encryption-key");

    public byte[] Encrypt(string kid, byte[] plaintext)
    {
        var output = new byte[12 + 16 + plaintext.Length];
        var nonce = output.AsSpan(0, 12);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, 16);
        aes.Encrypt(nonce, plaintext, output.AsSpan(28), output.AsSpan(12, 16), Encoding.UTF8.GetBytes(kid));
        return output;
    }

    public byte[] Decrypt(string kid, byte[] sealedKey)
    {
        var plaintext = new byte[sealedKey.Length - 28];
        using var aes = new AesGcm(key, 16);
        aes.Decrypt(sealedKey.AsSpan(0, 12), sealedKey.AsSpan(28), sealedKey.AsSpan(12, 16), plaintext, Encoding.UTF8.GetBytes(kid));
        return plaintext;
    }
}
