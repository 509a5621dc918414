using Microsoft.Net.Http.Headers;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Ids;
using Payments.BuildingBlocks.Logging;
using Payments.Vault.Audit;

namespace Payments.Vault;

/// <summary>
/// Headers every answer of the Vault carries, on every listener, written as the answer starts (the exception handler
/// clears what was set before): <c>Request-Id</c> as the contract says, <c>X-Content-Type-Options: nosniff</c>, and on
/// the JSON API (<c>/v1</c>, <c>/internal</c>) <c>Cache-Control: no-store</c> unless the route chose its own, so a
/// card token or fingerprint stays out of browser and proxy caches.
/// </summary>
internal static class VaultResponseHeaders
{
    public static IApplicationBuilder UseVaultResponseHeaders(this IApplicationBuilder app) => app.Use(static async (http, next) =>
    {
        // A caller's id under the Host's rule, else our own; logged as request_id, like the Host's. A verified signed
        // call logs the Host's id instead (the innermost scope), so its answer names that one.
        var incoming = http.Request.Headers[RequestIdMiddleware.HeaderName].ToString();
        var id = RequestIdMiddleware.IsAcceptable(incoming) ? incoming : PrefixedId.New("req");
        http.Response.OnStarting(static state =>
        {
            var (ctx, rid) = ((HttpContext, string))state;
            var headers = ctx.Response.Headers;
            headers[RequestIdMiddleware.HeaderName] = AuditOrigin.HostRequestId(ctx) is { Length: > 0 } hostId ? hostId : rid;
            headers.XContentTypeOptions = "nosniff";
            if ((ctx.Request.Path.StartsWithSegments("/v1") || ctx.Request.Path.StartsWithSegments("/internal"))
                && !headers.ContainsKey(HeaderNames.CacheControl))
            {
                headers.CacheControl = "no-store";
            }
            return Task.CompletedTask;
        }, (http, id));
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Payments.Vault.Requests");
        using (logger.BeginScope(new KeyValuePair<string, object>[] { new(LogScopes.GatewayRequestId, id) }))
        {
            await next(http);
        }
    });
}

/// <summary>
/// Kestrel refuses a body over the 16 KiB limit (or one it cannot read) by throwing where a route reads it: that is
/// the caller's fault, so its status (413, 400) as a problem, not the 500 of an unexpected exception.
/// </summary>
internal sealed class VaultExceptionHandler : Microsoft.AspNetCore.Diagnostics.IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (exception is not BadHttpRequestException bad || http.Response.HasStarted)
        {
            return false;
        }
        await VaultResults.Problem(bad.StatusCode, ErrorCodes.ForStatus(bad.StatusCode),
            bad.StatusCode == 413 ? "The body is larger than 16 KiB." : "The request could not be read.").ExecuteAsync(http);
        return true;
    }
}
