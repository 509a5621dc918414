using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Http;

namespace Payments.Transactions.Features.Sandbox;

internal static class SandboxRoutes
{
    /// <summary>In live mode a sandbox route answers exactly as a route that does not exist.</summary>
    public static void EnsureSandbox(HttpContext http, IOptions<GatewayOptions> gateway)
    {
        if (!gateway.Value.IsSandbox)
        {
            throw new ProblemException(404, ErrorCodes.NotFound, $"No route matches {http.Request.Method} {http.Request.Path}.");
        }
    }
}
