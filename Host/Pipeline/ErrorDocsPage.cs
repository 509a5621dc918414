using System.Net;
using System.Text;
using Payments.BuildingBlocks.Http;

namespace Payments.Host.Pipeline;

/// <summary>
/// <c>GET /docs/errors</c>: one HTML page with an anchor per error code, made from <see cref="ErrorCodes.All"/>, so every
/// problem's <c>type</c> (<c>…/docs/errors#invalid_state</c>) resolves to what the code means.
/// </summary>
internal static class ErrorDocsPage
{
    private static readonly Lazy<string> Html = new(Build);

    public static IEndpointRouteBuilder MapErrorDocs(this IEndpointRouteBuilder app)
    {
        app.MapGet(Problems.ErrorDocsPath, () => Results.Content(Html.Value, "text/html; charset=utf-8"))
            .AllowAnonymous()
            .ExcludeFromDescription();
        return app;
    }

    private static string Build()
    {
        var html = new StringBuilder();
        html.Append("""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Payments API: error codes</title>
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
            code{background:#f3f3f3;padding:0 .2em}section{border-top:1px solid #ddd;padding:.5rem 0}:target{background:#fff8d6}</style>
            </head><body>
            <h1>Error codes</h1>
            <p>Every error of the Payments API is an RFC 9457 problem (<code>application/problem+json</code>) whose
            <code>type</code> links to its section below and whose <code>code</code> is one of these stable values.
            Branch on <code>code</code>, never on <code>title</code> or <code>detail</code>; new codes may be added.
            Quote <code>request_id</code> when you contact support.</p>

            """);
        foreach (var e in ErrorCodes.All)
        {
            var code = WebUtility.HtmlEncode(e.Code);
            html.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"<section id=\"{code}\"><h2><a href=\"#{code}\"><code>{code}</code></a></h2><p>HTTP {e.Status}. {WebUtility.HtmlEncode(e.Description)}</p></section>\n");
        }
        html.Append("</body></html>\n");
        return html.ToString();
    }
}
