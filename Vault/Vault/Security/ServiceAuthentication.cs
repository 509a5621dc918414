using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Payments.Vault.Contracts;

namespace Payments.Vault.Security;

/// <summary>Why a service token was refused (audited, never told to the caller).</summary>
internal enum ServiceTokenFailure
{
    Missing,
    Malformed,
    BadSignature,
    WrongRequest,
    Expired,
    WrongScope,
    Replayed,
}

/// <summary>A verified Host call: who it acts for, its id, the Host's request id and the key to sign the answer with.</summary>
internal sealed record VerifiedServiceCall(string MerchantId, string Jti, string? HostRequestId, byte[] ResponseKey);

/// <summary>
/// Verifies the Host's signature on every service call: <c>Authorization: Vault-Signature v1.&lt;claims&gt;.&lt;mac&gt;</c>
/// where the claims name the merchant, a unique id, the issue and expiry times, the method, the path with query,
/// the SHA-256 of the body and the Host's request id, all under HMAC-SHA256 with a key derived from
/// <c>Vault:ServiceKey</c> (or, until <c>Vault:PreviousServiceKeyUntil</c>, <c>Vault:PreviousServiceKey</c>: a key
/// rotation without downtime). A token seen before, expired, issued before this process started (its replay cache
/// would not know it), or made for another request is refused. The answer is signed with a second key derived from
/// the same service key (<see cref="ResponseSignature"/>). See docs/adr/0022-vault-service-authentication.md.
/// </summary>
internal sealed class ServiceAuthentication
{
    public const string Scheme = "Vault-Signature";
    private const string RequestInfo = "payments/vault-service-auth/v1";
    private readonly ServiceKey current;
    private readonly ServiceKey? previous;
    private readonly DateTimeOffset previousUntil;
    private readonly TimeProvider clock;
    private readonly TimeSpan lifetime;
    private readonly long startedAt;
    private readonly ConcurrentDictionary<string, long> seen = new(StringComparer.Ordinal);
    private long nextPurge;

    public ServiceAuthentication(IOptions<VaultOptions> options, TimeProvider clock)
    {
        var o = options.Value;
        current = new ServiceKey(Decode(o.ServiceKey, "Vault:ServiceKey"));
        if (o.PreviousServiceKey is { Length: > 0 } old)
        {
            previous = new ServiceKey(Decode(old, "Vault:PreviousServiceKey"));
            previousUntil = o.PreviousServiceKeyUntil
                ?? throw new InvalidOperationException("Vault:PreviousServiceKeyUntil must be set with Vault:PreviousServiceKey (the end of the rotation's grace period).");
        }
        this.clock = clock;
        lifetime = o.ServiceTokenLifetime;
        // Tokens issued before start may have been used against a previous process whose replay cache is gone.
        startedAt = clock.GetUtcNow().ToUnixTimeSeconds() - 1;
    }

    internal static byte[] Decode(string base64, string name)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{name} is not base64.");
        }
        return key.Length >= 32 ? key : throw new InvalidOperationException($"{name} must be at least 32 bytes.");
    }

    /// <summary>
    /// The verified call, or the reason it is refused. <paramref name="serviceLevel"/>: the route acts for no merchant
    /// (the tokenization feed) and takes only a token with an empty merchant; every other route requires one.
    /// </summary>
    public (VerifiedServiceCall? Call, ServiceTokenFailure? Failure, string? ClaimedRequestId) Verify(
        string? authorization, string method, string pathAndQuery, ReadOnlySpan<byte> body, bool serviceLevel)
    {
        if (authorization is null || !authorization.StartsWith(Scheme + " ", StringComparison.Ordinal))
        {
            return (null, ServiceTokenFailure.Missing, null);
        }
        if (!authorization.StartsWith(Scheme + " v1.", StringComparison.Ordinal))
        {
            return (null, ServiceTokenFailure.Malformed, null);
        }
        var token = authorization.AsSpan(Scheme.Length + 4);
        var dot = token.IndexOf('.');
        if (dot <= 0 || dot == token.Length - 1)
        {
            return (null, ServiceTokenFailure.Malformed, null);
        }
        byte[] claimsBytes, mac;
        try
        {
            claimsBytes = Base64Url.DecodeFromChars(token[..dot]);
            mac = Base64Url.DecodeFromChars(token[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return (null, ServiceTokenFailure.Malformed, null);
        }
        var signed = Encoding.ASCII.GetBytes(token[..dot].ToString());
        var now = clock.GetUtcNow();
        var key = current.Matches(mac, signed) ? current
            : previous is not null && now < previousUntil && previous.Matches(mac, signed) ? previous
            : null;
        if (key is null)
        {
            return (null, ServiceTokenFailure.BadSignature, null);
        }
        Claims? claims;
        try
        {
            claims = JsonSerializer.Deserialize<Claims>(claimsBytes);
        }
        catch (JsonException)
        {
            return (null, ServiceTokenFailure.Malformed, null);
        }
        var rid = claims?.Rid is { Length: > 0 and <= 128 } r ? r : null;
        if (claims?.Jti is not { Length: >= 16 } || claims.Mid is null || claims.Htm != method || claims.Htu != pathAndQuery)
        {
            return (null, ServiceTokenFailure.WrongRequest, rid);
        }
        var seconds = now.ToUnixTimeSeconds();
        if (claims.Iat < startedAt || claims.Iat > seconds + 5 || claims.Exp < seconds || claims.Exp - claims.Iat > lifetime.TotalSeconds)
        {
            return (null, ServiceTokenFailure.Expired, rid);
        }
        var digest = Base64Url.EncodeToString(SHA256.HashData(body));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(digest), Encoding.ASCII.GetBytes(claims.Bsh ?? "")))
        {
            return (null, ServiceTokenFailure.WrongRequest, rid);
        }
        if (serviceLevel != (claims.Mid.Length == 0))
        {
            return (null, ServiceTokenFailure.WrongScope, rid);
        }
        PurgeExpired(seconds);
        // Checked last, so a forged or mismatched token cannot fill the cache.
        return seen.TryAdd(claims.Jti, claims.Exp)
            ? (new VerifiedServiceCall(claims.Mid, claims.Jti, rid, key.ResponseKey), null, rid)
            : (null, ServiceTokenFailure.Replayed, rid);
    }

    private void PurgeExpired(long now)
    {
        if (now < Interlocked.Read(ref nextPurge))
        {
            return;
        }
        Interlocked.Exchange(ref nextPurge, now + 10);
        foreach (var (jti, exp) in seen)
        {
            if (exp < now - 5)
            {
                seen.TryRemove(jti, out _);
            }
        }
    }

    private sealed class ServiceKey(byte[] serviceKey)
    {
        private readonly byte[] requestKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, serviceKey, 32, salt: [], info: Encoding.UTF8.GetBytes(RequestInfo));

        public byte[] ResponseKey { get; } = ResponseSignature.DeriveKey(serviceKey);

        public bool Matches(byte[] mac, byte[] signed) => CryptographicOperations.FixedTimeEquals(mac, HMACSHA256.HashData(requestKey, signed));
    }

    private sealed record Claims(
        [property: System.Text.Json.Serialization.JsonPropertyName("mid")] string? Mid,
        [property: System.Text.Json.Serialization.JsonPropertyName("jti")] string? Jti,
        [property: System.Text.Json.Serialization.JsonPropertyName("iat")] long Iat,
        [property: System.Text.Json.Serialization.JsonPropertyName("exp")] long Exp,
        [property: System.Text.Json.Serialization.JsonPropertyName("htm")] string? Htm,
        [property: System.Text.Json.Serialization.JsonPropertyName("htu")] string? Htu,
        [property: System.Text.Json.Serialization.JsonPropertyName("bsh")] string? Bsh,
        [property: System.Text.Json.Serialization.JsonPropertyName("rid")] string? Rid);
}
