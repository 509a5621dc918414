using Microsoft.Net.Http.Headers;

namespace Payments.Host.Pipeline;

/// <summary>
/// Headers every answer of the Host carries, written as the answer starts (the exception handler clears what was set
/// before): <c>X-Content-Type-Options: nosniff</c>, so no browser reads a JSON answer (which may echo a caller's
/// text) as a page; and on the merchant API <c>Cache-Control: no-store</c>, so payment data stays out of browser and
/// proxy caches, unless the route chose its own.
/// </summary>
internal static class StandardResponseHeaders
{
    public static IApplicationBuilder UseStandardResponseHeaders(this IApplicationBuilder app) => app.Use(static (http, next) =>
    {
        http.Response.OnStarting(static state =>
        {
            var ctx = (HttpContext)state;
            var headers = ctx.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            if (ctx.Request.Path.StartsWithSegments("/v1") && !headers.ContainsKey(HeaderNames.CacheControl))
            {
                headers.CacheControl = "no-store";
            }
            return Task.CompletedTask;
        }, http);
        return next(http);
    });
}
