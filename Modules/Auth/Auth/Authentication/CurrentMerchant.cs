using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;

namespace Payments.Auth.Authentication;

/// <summary>The merchant of the verified bearer token of the current request.</summary>
internal sealed class CurrentMerchant(IHttpContextAccessor http) : ICurrentMerchant
{
    private ClaimsPrincipal? User => http.HttpContext?.User;

    public bool IsAuthenticated =>
        User?.Identity is { IsAuthenticated: true, AuthenticationType: BearerAuthenticationHandler.SchemeName };

    public string Id => IsAuthenticated && User!.FindFirstValue(ClaimTypes.NameIdentifier) is { } id
        ? id
        : throw new ProblemException(401, ErrorCodes.Unauthorized, "A valid bearer token is required.");
}
