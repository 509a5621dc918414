using System.Security.Cryptography;
using Payments.Vault.Crypto;

namespace Payments.Vault.Audit;

/// <summary>
/// Interim audit key: derived from the KEK (version 1), so it is never stored, in the database or anywhere else.
/// Replaced by a key stored wrapped under the KEK (issue #16, key custody), which survives a KEK rotation.
/// </summary>
internal sealed class KekDerivedAuditKey(Kek kek) : IAuditKey
{
    private readonly Lazy<byte[]> key = new(() => kek.Derive("audit-mac-v1"));

    public (int Version, byte[] Key) Current => (1, key.Value);

    public byte[] Get(int version) =>
        version == 1 ? key.Value : throw new CryptographicException($"Unknown audit key version {version}.");
}
