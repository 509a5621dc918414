using System.Security.Claims;
using System.Text.Json;
using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Payments.Auth.Authentication;
using Payments.Auth.Contracts;
using Payments.Auth.Features.Token;
using Payments.Auth.Tokens;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Http;

namespace Payments.Auth.Features.Revoke;

/// <summary>
/// <c>POST /v1/auth/revoke</c>: revokes the presented token (no body or <c>{}</c>), or the merchant's own token given as
/// <c>{"token"}</c> or as an RFC 7009 form.
/// As RFC 7009 §2.2 says, a body token that is invalid, expired or another merchant's is answered 204 too,
/// and nothing is written.
/// </summary>
internal sealed class RevokeEndpoint(ICurrentMerchant merchant, TokenService tokens, RevocationStore revocations)
    : EndpointWithoutRequest
{
    public override void Configure()
    {
        Post("/v1/auth/revoke");
        // No Accepts metadata: routing would itself answer 415 to a bodiless HTTP Basic or revoke request.
        Description(b => b
            .Produces(204)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(413).ProducesProblem(415));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        string? bodyToken;
        try
        {
            bodyToken = await ReadTokenAsync(HttpContext.Request, ct);
        }
        catch (TokenRequestException e)
        {
            await TokenEndpoint.WriteProblemAsync(HttpContext, e);
            return;
        }

        if (bodyToken is null)
        {
            var jti = User.FindFirstValue(BearerAuthenticationHandler.JtiClaim)!;
            var expiresAt = (DateTimeOffset)HttpContext.Items[BearerAuthenticationHandler.ExpiresAtItem]!;
            await revocations.RevokeAsync(jti, merchant.Id, expiresAt, ct);
        }
        else if (await tokens.VerifyAsync(bodyToken, ct) is { } other && other.MerchantId == merchant.Id)
        {
            await revocations.RevokeAsync(other.Jti, other.MerchantId, other.ExpiresAt, ct);
        }
        await Send.NoContentAsync(ct);
    }

    private static async Task<string?> ReadTokenAsync(HttpRequest request, CancellationToken ct)
    {
        var body = await TokenRequestReader.ReadBodyAsync(request, ct);
        if (body.Length == 0)
        {
            return null;
        }
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
            && media.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 7009 §2.1, as OAuth libraries send it: token=…, an optional token_type_hint, nothing else read.
            var form = TokenRequestReader.DecodeForm(body) ?? throw Invalid("body", TokenRequestReader.FormNotUtf8);
            return form.TryGetValue("token", out var formToken) && formToken.Count == 1 && formToken[0] is { Length: > 0 } value
                ? value
                : throw Invalid("token", "token must be one non-empty string.");
        }
        if (!JsonBodyText.IsJson(request.ContentType))
        {
            throw new TokenRequestException(415, ErrorCodes.UnsupportedMediaType, "invalid_request",
                "The request body must be application/json, or an RFC 7009 form.");
        }
        var json = JsonBodyText.ToUtf8(request.ContentType, body) ?? throw Invalid("body", JsonBodyText.NotUtf8);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("body", "The body must be a JSON object.");
            }
            string? token = null;
            foreach (var p in root.EnumerateObject())
            {
                if (p.Name != "token")
                {
                    throw Invalid(Problems.EchoableName(p.Name, "body"), "Unknown field.");
                }
                if (p.Value.ValueKind != JsonValueKind.String || p.Value.GetString() is not { Length: > 0 } t || token is not null)
                {
                    throw Invalid("token", "token must be one non-empty string.");
                }
                token = t;
            }
            // {} names no other token: like no body, it revokes the presented one (docs/API.md).
            return token;
        }
        catch (JsonException)
        {
            throw Invalid("body", "The body is not valid JSON.");
        }
    }

    private static TokenRequestException Invalid(string field, string message) =>
        new(400, ErrorCodes.ValidationFailed, "invalid_request", "The revocation request is not valid.",
            new Dictionary<string, string[]> { [field] = [message] });
}
