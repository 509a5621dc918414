using System.Buffers.Text;
using FastEndpoints;
using Payments.Auth.Tokens;

namespace Payments.Auth.Features.Jwks;

/// <summary>
/// <c>GET /.well-known/jwks.json</c>: the public keys that verify the gateway's access tokens: the signing key, the
/// next one (published before it signs) and retired keys that may still have signed unexpired tokens.
/// </summary>
internal sealed class JwksEndpoint(SigningKeyStore keys) : EndpointWithoutRequest<JwksResponse>
{
    private static readonly string CacheControl = $"public, max-age={(int)SigningKeyStore.JwksMaxAge.TotalSeconds}";

    public override void Configure()
    {
        Get("/.well-known/jwks.json");
        AllowAnonymous();
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        var published = await keys.PublishedAsync(ct);
        var jwks = published.Select(k =>
        {
            var p = k.PublicKey.ExportParameters(false);
            return new Jwk("EC", "sig", "ES256", k.Kid, "P-256", Base64Url.EncodeToString(p.Q.X), Base64Url.EncodeToString(p.Q.Y));
        }).ToList();
        HttpContext.Response.Headers.CacheControl = CacheControl;
        await Send.OkAsync(new JwksResponse(jwks), ct);
    }
}

internal sealed record JwksResponse(IReadOnlyList<Jwk> Keys);

internal sealed record Jwk(string Kty, string Use, string Alg, string Kid, string Crv, string X, string Y);
