using System.Net;
using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Payments.Auth.Authentication;
using Payments.Auth.Data;
using Payments.Auth.RateLimiting;
using Payments.Auth.Tokens;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Observability;

namespace Payments.Auth.Features.Token;

/// <summary>
/// <c>POST /v1/auth/token</c>: client credentials for an access token. Unknown client and wrong secret answer the
/// same 401 after the same work (two PBKDF2 runs on every failure); failures are rate limited per client and per IP.
/// </summary>
internal sealed class TokenEndpoint(
    MerchantStore merchants,
    SecretHasher hasher,
    FailureLimiter limiter,
    TokenService tokens,
    TimeProvider clock,
    IOptions<AuthOptions> options) : EndpointWithoutRequest<TokenResponse>
{
    public override void Configure()
    {
        Post("/v1/auth/token");
        AllowAnonymous();
        // No Accepts metadata: routing would itself answer 415 to a bodiless HTTP Basic or revoke request.
        Description(b => b
            .Produces<TokenResponse>(200, "application/json")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(413).ProducesProblem(415).ProducesProblem(429));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        try
        {
            var credentials = await TokenRequestReader.ReadAsync(HttpContext.Request, ct);
            var response = await ExchangeAsync(credentials, ct);
            HttpContext.Response.Headers.CacheControl = "no-store";
            await Send.OkAsync(response, ct);
        }
        catch (TokenRequestException e)
        {
            if (e.Status == 429)
            {
                GatewayInstruments.RateLimitRefusals.Add(1, new KeyValuePair<string, object?>("limit", "token_failures"));
            }
            else
            {
                GatewayInstruments.TokenFailures.Add(1, new KeyValuePair<string, object?>("reason", e.Code));
            }
            await WriteProblemAsync(HttpContext, e);
        }
    }

    private async Task<TokenResponse> ExchangeAsync(ClientCredentials credentials, CancellationToken ct)
    {
        var o = options.Value;
        var clientKey = FailureLimiter.ClientKey(credentials.ClientId);
        var ipKey = FailureLimiter.IpKey(ClientIp(HttpContext));
        if (await limiter.RetryAfterAsync([(clientKey, o.MaxFailuresPerClient), (ipKey, o.MaxFailuresPerIp)]) is { } retry)
        {
            throw new TokenRequestException(429, ErrorCodes.RateLimited, "rate_limited",
                "Too many failed token requests; retry later.") { RetryAfterSeconds = retry };
        }

        var client = await merchants.FindClientAsync(credentials.ClientId, ct);
        if (client is not null && SecretHasher.Verify(credentials.ClientSecret, client.SecretHash))
        {
            var issued = await tokens.IssueAsync(client.MerchantId, ct);
            return new TokenResponse(issued.AccessToken, "Bearer", issued.ExpiresIn);
        }
        // Every failure runs a second hash, against the previous secret or a dummy, so neither an unknown client,
        // a client in a rotation grace period nor a wrong secret can be told apart by timing.
        var previousValid = client?.PreviousSecretHash is not null && client.PreviousValidUntil > clock.GetUtcNow();
        var second = SecretHasher.Verify(credentials.ClientSecret, previousValid ? client!.PreviousSecretHash! : hasher.DummyHash);
        if (client is null)
        {
            // Same work as for a known client: the first hash too.
            SecretHasher.Verify(credentials.ClientSecret, hasher.DummyHash);
        }
        if (previousValid && second)
        {
            var issued = await tokens.IssueAsync(client!.MerchantId, ct);
            return new TokenResponse(issued.AccessToken, "Bearer", issued.ExpiresIn);
        }
        await limiter.RecordFailureAsync([clientKey, ipKey]);
        throw new TokenRequestException(401, ErrorCodes.InvalidClient, "invalid_client", "The client credentials are not valid.");
    }

    internal static string ClientIp(HttpContext http)
    {
        var ip = http.Connection.RemoteIpAddress;
        if (ip is null)
        {
            return "unknown";
        }
        return (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString();
    }

    internal static Task WriteProblemAsync(HttpContext http, TokenRequestException e)
    {
        http.Response.StatusCode = e.Status;
        if (e.RetryAfterSeconds is { } s)
        {
            http.Response.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (e.Status == (int)HttpStatusCode.Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Basic realm=\"payments\"";
        }
        http.Response.Headers.CacheControl = "no-store";
        var problem = Problems.Create(http, e.Status, e.Code, e.Message, e.Errors);
        problem.Extensions["error"] = e.Error;
        return http.Response.WriteAsJsonAsync(problem, PaymentsJson.Options, Problems.ContentType);
    }
}

internal sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn);
