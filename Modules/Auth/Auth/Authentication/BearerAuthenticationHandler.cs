using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.Auth.Tokens;
using Payments.BuildingBlocks.Http;

namespace Payments.Auth.Authentication;

/// <summary>
/// The <c>Bearer</c> scheme, the Host's default: verifies the access token (ES256, known kid, issuer, audience,
/// lifetime) and that it is not revoked, and answers failures with a 401 problem and <c>WWW-Authenticate</c>.
/// Both checks are in memory once a token has been seen and the revocations loaded (docs/adr/0013).
/// </summary>
internal sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    TokenService tokens,
    RevocationStore revocations)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "Bearer";
    public const string JtiClaim = "jti";
    public const string ExpiresAtItem = "payments.auth.token_expires_at";
    private const string FailureItem = "payments.auth.failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization;
        if (header.Count == 0)
        {
            return AuthenticateResult.NoResult();
        }
        var value = header.Count == 1 ? header[0] ?? "" : "";
        if (!value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Fail("The Authorization header must be 'Bearer <token>'.");
        }
        var token = value["Bearer ".Length..].Trim();
        var verified = await tokens.VerifyAsync(token, Context.RequestAborted);
        if (verified is null)
        {
            return Fail("The access token is not valid.");
        }
        if (await revocations.IsRevokedAsync(verified.Jti, Context.RequestAborted))
        {
            return Fail("The access token has been revoked.");
        }
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, verified.MerchantId), new Claim(JtiClaim, verified.Jti)],
            SchemeName);
        Context.Items[ExpiresAtItem] = verified.ExpiresAt;
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    private AuthenticateResult Fail(string detail)
    {
        Context.Items[FailureItem] = detail;
        return AuthenticateResult.Fail(detail);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Response.HasStarted)
        {
            return Task.CompletedTask;
        }
        if (Context.Items[FailureItem] is string detail)
        {
            Response.Headers.WWWAuthenticate = $"Bearer error=\"invalid_token\", error_description=\"{detail}\"";
            return Problems.WriteAsync(Context, 401, ErrorCodes.InvalidToken, detail);
        }
        Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.WriteAsync(Context, 401, ErrorCodes.Unauthorized, "A valid bearer token is required.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Response.HasStarted ? Task.CompletedTask
            : Problems.WriteAsync(Context, 403, ErrorCodes.Forbidden, "The token does not allow this request.");
}
