using System.Security.Claims;
using System.Text;
using System.Text.Json;
using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
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
        if (request.ContentLength > TokenRequestReader.MaxBodyBytes)
        {
            throw new TokenRequestException(413, ErrorCodes.PayloadTooLarge, "invalid_request", "The request body is larger than 64 KiB.");
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > TokenRequestReader.MaxBodyBytes)
            {
                throw new TokenRequestException(413, ErrorCodes.PayloadTooLarge, "invalid_request", "The request body is larger than 64 KiB.");
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
        {
            return null;
        }
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var media)
            && media.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
        {
            return ReadForm(buffer.ToArray());
        }
        if (!JsonBodyText.IsJson(request.ContentType))
        {
            throw new TokenRequestException(415, ErrorCodes.UnsupportedMediaType, "invalid_request",
                "The request body must be application/json, or an RFC 7009 form.");
        }
        var json = JsonBodyText.ToUtf8(request.ContentType, buffer.ToArray()) ?? throw Invalid("body", JsonBodyText.NotUtf8);
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

    /// <summary>RFC 7009 §2.1, as OAuth libraries send it: <c>token=…</c>, an optional <c>token_type_hint</c>, nothing else read.</summary>
    private static string ReadForm(byte[] body)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("body", "The form is not valid UTF-8.");
        }
        return QueryHelpers.ParseQuery(text).TryGetValue("token", out var token) && token.Count == 1 && token[0] is { Length: > 0 } value
            ? value
            : throw Invalid("token", "token must be one non-empty string.");
    }

    private static TokenRequestException Invalid(string field, string message) =>
        new(400, ErrorCodes.ValidationFailed, "invalid_request", "The revocation request is not valid.",
            new Dictionary<string, string[]> { [field] = [message] });
}
