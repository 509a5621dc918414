using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Payments.Vault.Security;

/// <summary>
/// Verifies the Host's signature on every <c>/internal</c> call: <c>Authorization: Vault-Signature v1.&lt;claims&gt;.&lt;mac&gt;</c>
/// where the claims name the merchant, a unique id, the issue and expiry times, the method, the path with query, and
/// the SHA-256 of the body, all under HMAC-SHA256 with a key derived from <c>Vault:ServiceKey</c>. A token seen
/// before, expired, issued before this process started (its replay cache would not know it), or made for another
/// request is refused with 401. See docs/adr/0022-vault-service-authentication.md.
/// </summary>
internal sealed class ServiceAuthentication
{
    public const string Scheme = "Vault-Signature";
    private readonly byte[] key;
    private readonly TimeProvider clock;
    private readonly TimeSpan lifetime;
    private readonly long startedAt;
    private readonly ConcurrentDictionary<string, long> seen = new(StringComparer.Ordinal);
    private long nextPurge;

    public ServiceAuthentication(IOptions<VaultOptions> options, TimeProvider clock)
    {
        byte[] serviceKey;
        try
        {
            serviceKey = Convert.FromBase64String(options.Value.ServiceKey);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException("Vault:ServiceKey is not base64.");
        }
        if (serviceKey.Length < 32)
        {
            throw new InvalidOperationException("Vault:ServiceKey must be at least 32 bytes.");
        }
        key = HKDF.DeriveKey(HashAlgorithmName.SHA256, serviceKey, 32, salt: [], info: Encoding.UTF8.GetBytes("payments/vault-service-auth/v1"));
        this.clock = clock;
        lifetime = options.Value.ServiceTokenLifetime;
        // Tokens issued before start may have been used against a previous process whose replay cache is gone.
        startedAt = clock.GetUtcNow().ToUnixTimeSeconds() - 1;
    }

    /// <summary>The signed merchant id ("" for service-level calls), or null when the call must be refused.</summary>
    public string? Verify(string? authorization, string method, string pathAndQuery, ReadOnlySpan<byte> body)
    {
        if (authorization is null || !authorization.StartsWith(Scheme + " v1.", StringComparison.Ordinal))
        {
            return null;
        }
        var token = authorization.AsSpan(Scheme.Length + 4);
        var dot = token.IndexOf('.');
        if (dot <= 0 || dot == token.Length - 1)
        {
            return null;
        }
        byte[] claimsBytes, mac;
        try
        {
            claimsBytes = Base64Url.DecodeFromChars(token[..dot]);
            mac = Base64Url.DecodeFromChars(token[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }
        if (!CryptographicOperations.FixedTimeEquals(mac, HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(token[..dot].ToString()))))
        {
            return null;
        }
        Claims? claims;
        try
        {
            claims = JsonSerializer.Deserialize<Claims>(claimsBytes);
        }
        catch (JsonException)
        {
            return null;
        }
        if (claims?.Jti is not { Length: >= 16 } || claims.Mid is null || claims.Htm != method || claims.Htu != pathAndQuery)
        {
            return null;
        }
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        if (claims.Iat < startedAt || claims.Iat > now + 5 || claims.Exp < now || claims.Exp - claims.Iat > lifetime.TotalSeconds)
        {
            return null;
        }
        var digest = Base64Url.EncodeToString(SHA256.HashData(body));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(digest), Encoding.ASCII.GetBytes(claims.Bsh ?? "")))
        {
            return null;
        }
        PurgeExpired(now);
        // Checked last, so a forged or mismatched token cannot fill the cache.
        return seen.TryAdd(claims.Jti, claims.Exp) ? claims.Mid : null;
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

    private sealed record Claims(
        [property: System.Text.Json.Serialization.JsonPropertyName("mid")] string? Mid,
        [property: System.Text.Json.Serialization.JsonPropertyName("jti")] string? Jti,
        [property: System.Text.Json.Serialization.JsonPropertyName("iat")] long Iat,
        [property: System.Text.Json.Serialization.JsonPropertyName("exp")] long Exp,
        [property: System.Text.Json.Serialization.JsonPropertyName("htm")] string? Htm,
        [property: System.Text.Json.Serialization.JsonPropertyName("htu")] string? Htu,
        [property: System.Text.Json.Serialization.JsonPropertyName("bsh")] string? Bsh);
}

/// <summary>Refuses every <c>/internal</c> request that does not carry a valid Host signature.</summary>
internal sealed class ServiceAuthenticationMiddleware(RequestDelegate next, ServiceAuthentication auth)
{
    public const string MerchantItem = "vault.merchant";

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/internal", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }
        context.Request.EnableBuffering();
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        context.Request.Body.Position = 0;
        var pathAndQuery = context.Request.PathBase + context.Request.Path + context.Request.QueryString;
        var merchant = auth.Verify(context.Request.Headers.Authorization.ToString() is { Length: > 0 } h ? h : null,
            context.Request.Method, pathAndQuery, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        if (merchant is null)
        {
            await VaultResults.Problem(401, "unauthorized", "The call is not signed by the Host, or its signature was already used.")
                .ExecuteAsync(context);
            return;
        }
        context.Items[MerchantItem] = merchant;
        await next(context);
    }
}

internal static class MerchantContext
{
    /// <summary>The merchant the verified Host signature names; routes that act for a merchant require one.</summary>
    public static string Merchant(this HttpContext context) =>
        context.Items[ServiceAuthenticationMiddleware.MerchantItem] as string is { Length: > 0 } m
            ? m
            : throw new InvalidOperationException("No signed merchant on this call.");
}
