using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Ids;

namespace Payments.Auth.Tokens;

internal sealed record IssuedToken(string AccessToken, string Jti, DateTimeOffset ExpiresAt, int ExpiresIn);

internal sealed record VerifiedToken(string MerchantId, string Jti, DateTimeOffset ExpiresAt);

/// <summary>Issues and verifies the gateway's access tokens (ES256 JWTs).</summary>
internal sealed class TokenService(SigningKeyStore keys, VerifiedTokenCache verified, TimeProvider clock, IOptions<AuthOptions> options)
{
    public async Task<IssuedToken> IssueAsync(string merchantId, CancellationToken ct)
    {
        var o = options.Value;
        var (kid, key) = await keys.GetSigningKeyAsync(ct);
        var now = clock.GetUtcNow();
        var iat = now.ToUnixTimeSeconds();
        var exp = iat + (long)o.TokenLifetime.TotalSeconds;
        var jti = PrefixedId.New("tok", clock);
        var header = new JsonObject { ["alg"] = "ES256", ["typ"] = "JWT", ["kid"] = kid };
        var payload = new JsonObject
        {
            ["iss"] = o.Issuer,
            ["aud"] = o.Audience,
            ["sub"] = merchantId,
            ["jti"] = jti,
            ["iat"] = iat,
            ["nbf"] = iat,
            ["exp"] = exp,
        };
        var token = Jwt.Sign(header, payload, key);
        return new IssuedToken(token, jti, DateTimeOffset.FromUnixTimeSeconds(exp), (int)(exp - iat));
    }

    /// <summary>The token's merchant when its signature, algorithm, key, issuer, audience and lifetime hold; else null.</summary>
    public async Task<VerifiedToken?> VerifyAsync(string token, CancellationToken ct)
    {
        if (token.Length is 0 or > Jwt.MaxLength)
        {
            return null;
        }
        var hash = VerifiedTokenCache.TokenHash.Of(token);
        var now = clock.GetUtcNow();
        if (verified.Find(hash, now) is { } hit)
        {
            // The signature holds only while its key does: the same instance means the same, still accepted, row.
            if (ReferenceEquals(await keys.FindAsync(hit.Key.Kid, ct), hit.Key))
            {
                return hit.Token;
            }
            verified.Remove(hash, hit);
        }
        var entry = await VerifySignedAsync(token, now, ct);
        if (entry is null)
        {
            return null;
        }
        verified.Add(hash, entry, now);
        return entry.Token;
    }

    private async Task<VerifiedTokenCache.Entry?> VerifySignedAsync(string token, DateTimeOffset now, CancellationToken ct)
    {
        if (!Jwt.TryParse(token, out var header, out var payload, out var signingInput, out var signature))
        {
            return null;
        }
        // ES256 only: "none", HS256 (with the public key as HMAC secret) and anything else are refused outright.
        if (Str(header, "alg") != "ES256" || header.TryGetProperty("crit", out _) || signature.Length != 64
            || Str(header, "kid") is not { Length: > 0 and <= 64 } kid)
        {
            return null;
        }
        var key = await keys.FindAsync(kid, ct);
        if (key is null
            || !key.PublicKey.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            return null;
        }

        var o = options.Value;
        var skew = o.ClockSkew;
        if (Str(payload, "iss") != o.Issuer || !AudienceMatches(payload, o.Audience)
            || Num(payload, "exp") is not { } exp || Num(payload, "iat") is not { } iat
            || Str(payload, "sub") is not { Length: > 0 } sub || Str(payload, "jti") is not { Length: > 0 } jti)
        {
            return null;
        }
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(exp);
        var notBefore = DateTimeOffset.FromUnixTimeSeconds(iat);
        if (payload.TryGetProperty("nbf", out _))
        {
            if (Num(payload, "nbf") is not { } nbf)
            {
                return null;
            }
            notBefore = DateTimeOffset.FromUnixTimeSeconds(Math.Max(iat, nbf));
        }
        // The window the cache keeps the answer for: the same checks, made once.
        var validFrom = notBefore - skew;
        var validUntil = expiresAt + skew;
        if (now >= validUntil || now < validFrom)
        {
            return null;
        }
        // A token is never valid for longer than this gateway issues them, whatever its claims say.
        if (expiresAt - DateTimeOffset.FromUnixTimeSeconds(iat) > o.TokenLifetime + skew)
        {
            return null;
        }
        return new VerifiedTokenCache.Entry(new VerifiedToken(sub, jti, expiresAt), key, validFrom, validUntil);
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long? Num(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n)
        && n is > 0 and < 253402300799 ? n : null;

    private static bool AudienceMatches(JsonElement payload, string audience)
    {
        if (!payload.TryGetProperty("aud", out var aud))
        {
            return false;
        }
        return aud.ValueKind switch
        {
            JsonValueKind.String => aud.GetString() == audience,
            JsonValueKind.Array => aud.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() == audience),
            _ => false,
        };
    }
}
