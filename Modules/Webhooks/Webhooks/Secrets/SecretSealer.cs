using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Hosting;

namespace Payments.Webhooks.Secrets;

/// <summary>
/// Seals endpoints' signing secrets with AES-256-GCM under <c>Webhooks:SecretKey</c>, the endpoint id as associated
/// data (a sealed secret copied to another row does not open). The Host may not use Data Protection (only the Vault
/// does), and the secret must be recoverable to sign, so it cannot be a hash. See docs/adr/0091.
/// </summary>
internal sealed class SecretSealer
{
    private const int TagSize = 16;
    private readonly byte[] key;

    public SecretSealer(IOptions<WebhooksOptions> options, IOptions<GatewayOptions> gateway, ILogger<SecretSealer> logger) =>
        key = ConfiguredKeys.Read("Webhooks:SecretKey", options.Value.SecretKey, gateway.Value, logger,
            "webhook secrets are sealed", "payments-sandbox-webhooks-secret-key");

    /// <summary>A new signing secret: <c>whsec_</c> and 32 random bytes, base64url.</summary>
    public static string NewSecret() =>
        "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public (byte[] Nonce, byte[] Sealed) Seal(string endpointId, string secret)
    {
        var nonce = RandomNumberGenerator.GetBytes(12);
        var plain = Encoding.UTF8.GetBytes(secret);
        var output = new byte[plain.Length + TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plain, output.AsSpan(0, plain.Length), output.AsSpan(plain.Length), Encoding.UTF8.GetBytes(endpointId));
        return (nonce, output);
    }

    public string Open(string endpointId, byte[] nonce, byte[] sealedSecret)
    {
        var plain = new byte[sealedSecret.Length - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(nonce, sealedSecret.AsSpan(0, plain.Length), sealedSecret.AsSpan(plain.Length), plain, Encoding.UTF8.GetBytes(endpointId));
        return Encoding.UTF8.GetString(plain);
    }

}
