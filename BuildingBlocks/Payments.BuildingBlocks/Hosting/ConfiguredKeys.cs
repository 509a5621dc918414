using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Payments.BuildingBlocks.Hosting;

/// <summary>
/// The Host's 32-byte keys from configuration (base64), each sealing one kind of secret at rest with AES-256-GCM
/// (signing keys, webhook secrets, idempotent answers). Live mode requires them; a sandbox without one gets a fixed,
/// public development key and a warning, so a fresh checkout runs.
/// </summary>
public static class ConfiguredKeys
{
    /// <param name="setting">The setting's name, for the messages (<c>Webhooks:SecretKey</c>).</param>
    /// <param name="configured">Its value, or null.</param>
    /// <param name="sealedWhat">What the key seals, for the sandbox warning ("webhook secrets are sealed").</param>
    /// <param name="sandboxSeed">Hashed into the public development key: fixed, so a sandbox's sealed data outlives restarts.</param>
    public static byte[] Read(string setting, string? configured, GatewayOptions gateway, ILogger logger, string sealedWhat, string sandboxSeed)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            byte[]? parsed;
            try
            {
                parsed = Convert.FromBase64String(configured);
            }
            catch (FormatException)
            {
                parsed = null;
            }
            return parsed is { Length: 32 } ? parsed : throw new InvalidOperationException($"{setting} must be the base64 of 32 bytes.");
        }
        if (gateway.IsSandbox)
        {
            logger.LogWarning("{Setting} is not set; {Sealed} with the public sandbox development key", setting, sealedWhat);
            return SHA256.HashData(Encoding.UTF8.GetBytes(sandboxSeed));
        }
        throw new InvalidOperationException($"{setting} is required in Live mode.");
    }
}
