using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Payments.BuildingBlocks.Http;

/// <summary>
/// Headers every answer of the Host and of the Vault carries, written as the answer starts (the exception handler
/// clears what was set before): <c>X-Content-Type-Options: nosniff</c>, so no browser reads a JSON answer (which may
/// echo a caller's text) as a page; and under the given API paths <c>Cache-Control: no-store</c>, so payment data and
/// card tokens stay out of browser and proxy caches, unless the route chose its own.
/// </summary>
public static class StandardResponseHeaders
{
    public static IApplicationBuilder UseStandardResponseHeaders(this IApplicationBuilder app, params string[] apiPaths)
    {
        var prefixes = apiPaths.Select(p => new PathString(p)).ToArray();
        return app.Use((http, next) =>
        {
            http.Response.OnStarting(state =>
            {
                var ctx = (HttpContext)state;
                var headers = ctx.Response.Headers;
                headers.XContentTypeOptions = "nosniff";
                if (prefixes.Any(p => ctx.Request.Path.StartsWithSegments(p)) && !headers.ContainsKey(HeaderNames.CacheControl))
                {
                    headers.CacheControl = "no-store";
                }
                return Task.CompletedTask;
            }, http);
            return next(http);
        });
    }
}
