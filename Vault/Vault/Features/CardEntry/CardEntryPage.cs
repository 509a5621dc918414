using System.Text;
using System.Text.Encodings.Web;
using Carter;
using Payments.BuildingBlocks.Hosting;
using Payments.Vault.Cards;
using Payments.Vault.Contracts;
using Payments.Vault.Security;

namespace Payments.Vault.Features.CardEntry;

/// <summary>
/// The hosted card-entry page at the intent's <c>card_entry_url</c>, with its same-origin script and style. Plain,
/// accessible HTML that works without script; the script only validates as the user types. Every answer carries a
/// strict Content-Security-Policy, so no third-party or inline script can run beside the card fields.
/// </summary>
public sealed class CardEntryModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/tokenization-intents/{id}/card-entry", async (string id, string? client_secret, HttpContext http, CardVault vault,
            FailedCardEntryLimits failures, IConfiguration config, CancellationToken ct) =>
        {
            if (failures.Exhausted(http, id))
            {
                await failures.LimitedAsync(id);
                return CardEntryPage.Message(429, "Too many attempts.", "Please try again in a minute.", null);
            }
            var intent = await vault.FindIntentAsync(id, ct);
            if (intent is null || !CardVault.SecretMatches(intent, client_secret))
            {
                await failures.FailedAsync(http, id, intent?.MerchantId, intent is null ? "unknown_intent" : "wrong_client_secret");
                return CardEntryPage.Message(404, "This card form is not valid.", "Ask the shop for a new link.", null);
            }
            return vault.StatusOf(intent) switch
            {
                "REQUIRES_CARD" => CardEntryPage.Form(intent, client_secret!, new Dictionary<string, string[]>(), 200, LiveModeGuard.IsLive(config)),
                "SUCCEEDED" => CardEntryPage.Message(200, "Your card is saved.", "You can go back to the shop.", intent.ReturnUrl),
                "EXPIRED" => CardEntryPage.Message(410, "This card form has expired.", "Ask the shop for a new link.", intent.ReturnUrl),
                _ => CardEntryPage.Message(409, "Too many failed attempts.", "This card form is closed. Ask the shop for a new link.", intent.ReturnUrl),
            };
        }).AllowUnsignedCallers();
        app.MapGet("/assets/card-entry.js", () => CardEntryPage.Asset("card-entry.js", "text/javascript; charset=utf-8")).AllowUnsignedCallers();
        app.MapGet("/assets/card-entry.css", () => CardEntryPage.Asset("card-entry.css", "text/css; charset=utf-8")).AllowUnsignedCallers();
    }
}

internal static class CardEntryPage
{
    /// <summary>Where browsers send CSP violation reports (audited, see CspReportModule).</summary>
    public const string ReportPath = "/csp-reports";

    // Trusted Types: no DOM XSS sink (innerHTML, script src, eval) may take a string; the page's script uses none.
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
        "require-trusted-types-for 'script'; trusted-types 'none'; report-uri " + ReportPath + "; report-to csp";

    /// <summary>The security headers of every page and asset (also hashed for change detection).</summary>
    public static IEnumerable<KeyValuePair<string, string>> SecurityHeaders(string origin) =>
    [
        new("Content-Security-Policy", ContentSecurityPolicy),
        new("Reporting-Endpoints", $"csp=\"{origin}{ReportPath}\""),
        new("X-Content-Type-Options", "nosniff"),
        new("X-Frame-Options", "DENY"),
        new("Referrer-Policy", "no-referrer"),
        new("Cache-Control", "no-store"),
        new("Cross-Origin-Opener-Policy", "same-origin"),
    ];

    private static readonly HtmlEncoder Html = HtmlEncoder.Default;

    public static IResult Form(IntentRow intent, string clientSecret, IReadOnlyDictionary<string, string[]> errors, int status, bool live) =>
        Page(status, "Enter your card", FormBody(intent.IntentId, clientSecret, errors, live));

    public static string FormBody(string intentId, string clientSecret, IReadOnlyDictionary<string, string[]> errors, bool live)
    {
        var sb = new StringBuilder();
        if (errors.Count > 0)
        {
            sb.Append("<div id=\"error-summary\" class=\"error-summary\" role=\"alert\" tabindex=\"-1\"><h2>Please check your card details</h2><ul>");
            foreach (var (field, messages) in errors)
            {
                foreach (var m in messages)
                {
                    sb.Append("<li><a href=\"#").Append(Html.Encode(FieldId(field))).Append("\">").Append(Html.Encode(m)).Append("</a></li>");
                }
            }
            sb.Append("</ul></div>");
        }
        else
        {
            sb.Append("<div id=\"error-summary\" class=\"error-summary\" role=\"alert\" tabindex=\"-1\" hidden></div>");
        }
        var action = $"/v1/tokenization-intents/{Uri.EscapeDataString(intentId)}/card";
        sb.Append("<form id=\"card-form\" method=\"post\" action=\"").Append(Html.Encode(action)).Append("\" novalidate>");
        sb.Append("<input type=\"hidden\" name=\"client_secret\" value=\"").Append(Html.Encode(clientSecret)).Append("\">");
        // A test card number as a hint only in sandbox: in live mode it would invite real cardholders to type it.
        Field(sb, "number", "Card number", "cc-number", "numeric", 23, live ? null : "e.g. 4242 4242 4242 4242", errors);
        sb.Append("<p id=\"brand\" class=\"brand\" aria-live=\"polite\"></p>");
        sb.Append("<fieldset><legend>Expiry date</legend><div class=\"row\">");
        Field(sb, "exp_month", "Month (MM)", "cc-exp-month", "numeric", 2, null, errors);
        Field(sb, "exp_year", "Year (YYYY)", "cc-exp-year", "numeric", 4, null, errors);
        sb.Append("</div></fieldset>");
        Field(sb, "cvc", "Security code (CVC)", "cc-csc", "numeric", 4, "3 or 4 digits on the back of the card", errors);
        Field(sb, "holder_name", "Name on card (optional)", "cc-name", "text", 200, null, errors);
        sb.Append("<button type=\"submit\" id=\"submit\">Save card</button></form>");
        return sb.ToString();
    }

    private static void Field(StringBuilder sb, string name, string label, string autocomplete, string inputMode, int maxLength,
        string? hint, IReadOnlyDictionary<string, string[]> errors)
    {
        var id = FieldId(name);
        var describedBy = new List<string>();
        sb.Append("<div class=\"field\"><label for=\"").Append(id).Append("\">").Append(Html.Encode(label)).Append("</label>");
        if (hint is not null)
        {
            sb.Append("<p class=\"hint\" id=\"").Append(id).Append("-hint\">").Append(Html.Encode(hint)).Append("</p>");
            describedBy.Add(id + "-hint");
        }
        var hasError = errors.TryGetValue(name, out var messages);
        sb.Append("<p class=\"error\" id=\"").Append(id).Append("-error\" aria-live=\"polite\"")
            .Append(hasError ? ">" + Html.Encode(string.Join(" ", messages!)) : " hidden>").Append("</p>");
        describedBy.Add(id + "-error");
        // Card data fields are never filled back in: the user types them again.
        sb.Append("<input id=\"").Append(id).Append("\" name=\"").Append(name).Append("\" autocomplete=\"").Append(autocomplete)
            .Append("\" inputmode=\"").Append(inputMode).Append("\" maxlength=\"").Append(maxLength)
            .Append("\" aria-describedby=\"").Append(string.Join(' ', describedBy)).Append('"')
            .Append(name == "holder_name" ? "" : " required aria-required=\"true\"")
            .Append(hasError ? " aria-invalid=\"true\"" : "")
            .Append(inputMode == "numeric" ? " spellcheck=\"false\"" : "").Append("></div>");
    }

    private static string FieldId(string name) => "f-" + name.Replace('_', '-');

    public static IResult Succeeded(IntentRow intent, CardDisplay card) =>
        Message(201, "Your card is saved.", $"{Label(card.Brand)} ending in {card.Last4}.", intent.ReturnUrl, ("status", "SUCCEEDED"), intent.IntentId);

    public static IResult Message(int status, string title, string text, string? returnUrl) =>
        Message(status, title, text, returnUrl, null, null);

    private static IResult Message(int status, string title, string text, string? returnUrl, (string Key, string Value)? query, string? intentId)
    {
        var sb = new StringBuilder();
        sb.Append("<div id=\"outcome\" class=\"").Append(status < 300 ? "success" : "failure").Append("\" role=\"status\">")
            .Append("<p>").Append(Html.Encode(text)).Append("</p></div>");
        if (SafeReturnUrl(returnUrl) is { } back)
        {
            if (query is { } q && intentId is not null)
            {
                back += (back.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "tokenization_intent=" + Uri.EscapeDataString(intentId)
                        + "&" + q.Key + "=" + Uri.EscapeDataString(q.Value);
            }
            sb.Append("<p><a id=\"return\" class=\"button\" href=\"").Append(Html.Encode(back)).Append("\">Return to the shop</a></p>");
        }
        return Page(status, title, sb.ToString());
    }

    private static string Label(string brand) => brand switch
    {
        "VISA" => "Visa",
        "MASTERCARD" => "Mastercard",
        "AMEX" => "American Express",
        "DISCOVER" => "Discover",
        "DINERS" => "Diners Club",
        "JCB" => "JCB",
        "UNIONPAY" => "UnionPay",
        _ => "Card",
    };

    /// <summary>Only absolute http(s) URLs are ever put in a link (the Host validated them too).</summary>
    private static string? SafeReturnUrl(string? url) =>
        url is not null && Uri.TryCreate(url, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp)
            ? u.AbsoluteUri
            : null;

    private static IResult Page(int status, string title, string body) => new PageResult(title, body, status);

    /// <summary>The whole page; the script and style carry their SRI hashes from the inventory.</summary>
    public static string Render(CardEntryIntegrity integrity, string title, string body)
    {
        var js = integrity.IntegrityOf("/assets/card-entry.js");
        var css = integrity.IntegrityOf("/assets/card-entry.css");
        return $"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>{Html.Encode(title)}</title>
            <link rel="stylesheet" href="/assets/card-entry.css" integrity="{css}">
            <script src="/assets/card-entry.js" integrity="{js}" defer></script>
            </head>
            <body>
            <main>
            <h1>{Html.Encode(title)}</h1>
            {body}
            <p class="secure">Your card details go straight to the payment vault; the shop never sees them.</p>
            </main>
            </body>
            </html>
            """;
    }

    private sealed class PageResult(string title, string body, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext) =>
            new SecureHtml(Render(httpContext.RequestServices.GetRequiredService<CardEntryIntegrity>(), title, body), status)
                .ExecuteAsync(httpContext);
    }

    public static IResult Asset(string name, string contentType) =>
        new SecureHtml(Encoding.UTF8.GetString(AssetBytes(name)), 200, contentType);

    public static byte[] AssetBytes(string name)
    {
        using var stream = typeof(CardEntryPage).Assembly.GetManifestResourceStream("Payments.Vault.Features.CardEntry." + name)
                           ?? throw new InvalidOperationException($"Missing asset {name}.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private sealed class SecureHtml(string content, int status, string contentType = "text/html; charset=utf-8") : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            var h = httpContext.Response.Headers;
            foreach (var (name, value) in SecurityHeaders(httpContext.Request.Scheme + "://" + httpContext.Request.Host))
            {
                h[name] = value;
            }
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = contentType;
            return httpContext.Response.WriteAsync(content, httpContext.RequestAborted);
        }
    }
}
