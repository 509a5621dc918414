using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Payments.Vault.Client;

/// <summary>
/// Signs one Host→Vault call: claims with the merchant, a unique id, issue and expiry times (30 s), the method,
/// the path with query and the SHA-256 of the body, under HMAC-SHA256 with a key derived from <c>Vault:ServiceKey</c>.
/// The Vault refuses a token it has seen, so a captured call cannot be replayed. The claims also carry the Host's
/// request id (<c>rid</c>), so the Vault's logs and audit rows name it and nobody on the way can change it. The Vault
/// signs its answer bound to the token's id (<see cref="Payments.Vault.Contracts.ResponseSignature"/>). See docs/adr/0022.
/// </summary>
internal sealed class ServiceTokenSigner
{
    public const string Scheme = "Vault-Signature";
    private readonly byte[] key;
    private readonly TimeProvider clock;

    public ServiceTokenSigner(string serviceKeyBase64, TimeProvider clock)
    {
        var serviceKey = Convert.FromBase64String(serviceKeyBase64);
        if (serviceKey.Length < 32)
        {
            throw new InvalidOperationException("Vault:ServiceKey must be at least 32 bytes.");
        }
        key = HKDF.DeriveKey(HashAlgorithmName.SHA256, serviceKey, 32, salt: [], info: Encoding.UTF8.GetBytes("payments/vault-service-auth/v1"));
        ResponseKey = Payments.Vault.Contracts.ResponseSignature.DeriveKey(serviceKey);
        this.clock = clock;
    }

    /// <summary>The key the Vault's answers are signed with.</summary>
    public byte[] ResponseKey { get; }

    /// <summary>The value of the <c>Authorization</c> header for this request.</summary>
    public string Sign(string merchantId, string method, string pathAndQuery, ReadOnlySpan<byte> body, string? requestId = null) =>
        Sign(merchantId, method, pathAndQuery, body, requestId, out _);

    /// <summary>The header's value, and the token's id (<paramref name="jti"/>) the answer must be bound to.</summary>
    public string Sign(string merchantId, string method, string pathAndQuery, ReadOnlySpan<byte> body, string? requestId, out string jti)
    {
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        jti = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(18));
        var claims = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["mid"] = merchantId,
            ["jti"] = jti,
            ["iat"] = now,
            ["exp"] = now + 30,
            ["htm"] = method,
            ["htu"] = pathAndQuery,
            ["bsh"] = Base64Url.EncodeToString(SHA256.HashData(body)),
            ["rid"] = requestId,
        });
        var encoded = Base64Url.EncodeToString(claims);
        var mac = Base64Url.EncodeToString(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(encoded)));
        return $"{Scheme} v1.{encoded}.{mac}";
    }
}
