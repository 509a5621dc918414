using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Payments.Vault.Audit;

/// <summary>
/// How a row is bound into the chain. Keyed rows: mac = HMAC-SHA256(audit key, previous link ‖ seq ‖ n ‖ key version ‖
/// canonical row); the link of a row is its mac. Legacy rows (before migration 0003): hash = SHA-256(previous link ‖
/// canonical row). Without the key nobody can compute a keyed row, so edited, deleted, reordered or recomputed rows show.
/// </summary>
internal static class AuditChain
{
    public static readonly byte[] Genesis = new byte[32];

    public static byte[] Mac(byte[] key, byte[] prev, long seq, long n, int keyVersion, AuditEntry e)
    {
        var body = Canonical(e);
        var input = new byte[prev.Length + 20 + body.Length];
        prev.CopyTo(input, 0);
        BinaryPrimitives.WriteInt64BigEndian(input.AsSpan(prev.Length), seq);
        BinaryPrimitives.WriteInt64BigEndian(input.AsSpan(prev.Length + 8), n);
        BinaryPrimitives.WriteInt32BigEndian(input.AsSpan(prev.Length + 16), keyVersion);
        body.CopyTo(input, prev.Length + 20);
        return HMACSHA256.HashData(key, input);
    }

    public static byte[] LegacyHash(byte[] prev, AuditEntry e)
    {
        var body = Canonical(e);
        var input = new byte[prev.Length + body.Length];
        prev.CopyTo(input, 0);
        body.CopyTo(input, prev.Length);
        return SHA256.HashData(input);
    }

    /// <summary>Length-prefixed fields: no two different rows share a canonical form.</summary>
    private static byte[] Canonical(AuditEntry e)
    {
        var sb = new StringBuilder();
        foreach (var field in new[] { (e.At.UtcTicks / 10).ToString(CultureInfo.InvariantCulture), e.Action, e.MerchantId ?? "\0", e.Subject ?? "\0", e.DetailJson })
        {
            sb.Append(field.Length).Append(':').Append(field).Append(';');
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }
}

internal sealed record AuditEntry(DateTimeOffset At, string Action, string? MerchantId, string? Subject, string DetailJson);
