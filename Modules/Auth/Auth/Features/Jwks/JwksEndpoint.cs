using FastEndpoints;

namespace Payments.Auth.Features.Jwks;

/// <summary><c>GET /.well-known/jwks.json</c>: the public keys that verify the gateway's access tokens.</summary>
internal sealed class JwksEndpoint : EndpointWithoutRequest<JwksResponse>
{
    public override void Configure()
    {
        Get("/.well-known/jwks.json");
        AllowAnonymous();
    }

    public override Task HandleAsync(CancellationToken ct) => Send.OkAsync(new JwksResponse([]), ct);
}

internal sealed record JwksResponse(IReadOnlyList<object> Keys);
