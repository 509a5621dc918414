using System.Security.Cryptography;
using Payments.Vault.Audit;

namespace Payments.Vault.Crypto;

/// <summary>
/// The audit MAC key: a random 256-bit key stored only wrapped under the KEK (<c>vault.wrapped_keys</c>, purpose
/// <c>audit-mac</c>), made on first use; the database never holds it in clear, and a KEK rotation rewraps it
/// (docs/adr/0128).
/// </summary>
internal sealed class WrappedAuditKey(WrappedKeys keys) : IAuditKey
{
    private readonly Lazy<UnwrappedKey> current = new(() =>
        keys.GetOrCreate(WrappedKeys.AuditMac, "", () => RandomNumberGenerator.GetBytes(32)));

    public (int Version, byte[] Key) Current => (current.Value.Version, current.Value.Key);

    public byte[] Get(int version) =>
        version == current.Value.Version
            ? current.Value.Key
            : keys.Get(WrappedKeys.AuditMac, "", version)?.Key ?? throw new CryptographicException($"No audit key of version {version}.");
}
