using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Hosting;

namespace Payments.BuildingBlocks.Http;

/// <summary>Builds the one problem shape every error of the gateway has (RFC 9457 plus <c>code</c>).</summary>
public static class Problems
{
    public const string ContentType = "application/problem+json";

    public static ProblemDetails Create(HttpContext? http, int status, string code, string? detail,
        IReadOnlyDictionary<string, string[]>? errors = null)
    {
        var problem = new ProblemDetails
        {
            Type = TypeFor(http, code),
            Title = TitleFor(status),
            Status = status,
            Detail = detail ?? TitleFor(status),
            Instance = InstanceOf(http),
        };
        problem.Extensions["code"] = code;
        if (errors is { Count: > 0 })
        {
            problem.Extensions["errors"] = errors;
        }
        if (http?.Items[RequestIdMiddleware.ItemKey] is string requestId)
        {
            problem.Extensions["request_id"] = requestId;
        }
        return problem;
    }

    /// <summary>
    /// The problem's <c>instance</c>: the request's path, with any card number in it redacted. A path holds whatever the
    /// caller typed (<c>/v1/transactions/4242…</c>), and no card number goes back out in an error.
    /// </summary>
    public static string? InstanceOf(HttpContext? http) =>
        http?.Request.Path.Value is { } path ? CardData.CardNumberDetector.Redact(path) : null;

    /// <summary>
    /// A name the caller sent (an unknown field, a query parameter) as an <c>errors</c> key: itself when it is plainly a
    /// name, else <paramref name="otherwise"/>. Never a card number, a control character or a long echo.
    /// </summary>
    public static string EchoableName(string name, string otherwise) =>
        name.Length is > 0 and <= 64 && !name.Any(char.IsControl) && !CardData.CardNumberDetector.ContainsCardNumber(name) ? name : otherwise;

    /// <summary>The problem's <c>type</c>: the gateway's own page for the code, <c>/docs/errors#code</c> (docs/adr/0100).</summary>
    public static string TypeFor(HttpContext? http, string code)
    {
        var configured = http?.RequestServices?.GetService<IOptions<GatewayOptions>>()?.Value.PublicBaseUrl;
        var origin = configured is not null ? configured.AbsoluteUri.TrimEnd('/')
            : http is not null && http.Request.Host.HasValue ? http.Request.Scheme + "://" + http.Request.Host.Value
            : "";
        return origin + ErrorDocsPath + "#" + code;
    }

    /// <summary>The page describing every code (served by the Host).</summary>
    public const string ErrorDocsPath = "/docs/errors";

    public static Task WriteAsync(HttpContext http, int status, string code, string? detail,
        IReadOnlyDictionary<string, string[]>? errors = null, int? retryAfterSeconds = null)
    {
        http.Response.StatusCode = status;
        if (retryAfterSeconds is { } s)
        {
            http.Response.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var problem = Create(http, status, code, detail, errors);
        return http.Response.WriteAsJsonAsync(problem, PaymentsJson.Options, ContentType);
    }

    public static Task WriteAsync(HttpContext http, ProblemException ex) =>
        WriteAsync(http, ex.Status, ex.Code, ex.Message, ex.Errors, ex.RetryAfterSeconds);

    public static string TitleFor(int status) => status switch
    {
        400 => "The request is not valid",
        401 => "Authentication is required",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        412 => "Precondition failed",
        413 => "Request body too large",
        415 => "Unsupported media type",
        422 => "The request cannot be processed",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ when status >= 500 => "Internal error",
        _ => "Error",
    };
}
