using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Payments.Vault.Contracts;

/// <summary>
/// The Vault's signature on its answer to a Host call, bound to that call: HMAC-SHA256 over the request token's id
/// (<c>jti</c>), the status code and the SHA-256 of the body, under a key derived (HKDF, its own info) from the service
/// key, in the <c>Vault-Response-Signature: v1.&lt;mac&gt;</c> header. Whoever sits between the Host and the Vault
/// cannot forge or replay an answer (an <c>approved</c> for another call, say). See docs/adr/0022.
/// </summary>
public static class ResponseSignature
{
    public const string HeaderName = "Vault-Response-Signature";
    private const string Info = "payments/vault-service-response/v1";

    public static byte[] DeriveKey(byte[] serviceKey) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, serviceKey, 32, salt: [], info: Encoding.UTF8.GetBytes(Info));

    /// <summary>The header's value for this answer.</summary>
    public static string Sign(byte[] responseKey, string jti, int status, ReadOnlySpan<byte> body) =>
        "v1." + Base64Url.EncodeToString(Mac(responseKey, jti, status, body));

    /// <summary>True when <paramref name="header"/> is this answer's signature.</summary>
    public static bool Verify(byte[] responseKey, string jti, int status, ReadOnlySpan<byte> body, string? header)
    {
        if (header is null || !header.StartsWith("v1.", StringComparison.Ordinal))
        {
            return false;
        }
        byte[] mac;
        try
        {
            mac = Base64Url.DecodeFromChars(header.AsSpan(3));
        }
        catch (FormatException)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(mac, Mac(responseKey, jti, status, body));
    }

    private static byte[] Mac(byte[] key, string jti, int status, ReadOnlySpan<byte> body)
    {
        var input = Encoding.ASCII.GetBytes(
            $"{jti}\n{status.ToString(System.Globalization.CultureInfo.InvariantCulture)}\n{Base64Url.EncodeToString(SHA256.HashData(body))}");
        return HMACSHA256.HashData(key, input);
    }
}
