namespace Payments.Vault.Audit;

internal interface IAuditKey
{
    /// <summary>The key new audit rows and anchors are MACed with, and its version.</summary>
    (int Version, byte[] Key) Current { get; }
    /// <summary>The key of an older version, for verification; throws CryptographicException if unknown.</summary>
    byte[] Get(int version);
}
