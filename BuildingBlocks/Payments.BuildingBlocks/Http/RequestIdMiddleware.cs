using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Ids;

namespace Payments.BuildingBlocks.Http;

/// <summary>
/// Gives every answer a <c>Request-Id</c> header and every log line of the request the same id, and writes one line
/// per answer (method, route template, status, time) so every id the gateway hands out is in its log (the contract).
/// The route template, never the path: a path can hold whatever the caller typed, a card number included.
/// The id is always the gateway's own: a caller who chose it could pass off another request's id as its own, and it
/// travels where merchant text does not (the Vault's audit rows, through the signed call). A caller's <c>Request-Id</c>
/// header is logged apart, as <c>client_request_id</c>, when it is a short token (ADR 118).
/// </summary>
public sealed partial class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    public const string HeaderName = "Request-Id";
    public const string ItemKey = "payments.request_id";

    public async Task InvokeAsync(HttpContext http)
    {
        var id = PrefixedId.New("req");
        http.Items[ItemKey] = id;
        http.TraceIdentifier = id;
        http.Response.OnStarting(static state =>
        {
            var (ctx, rid) = ((HttpContext, string))state;
            ctx.Response.Headers[HeaderName] = rid;
            return Task.CompletedTask;
        }, (http, id));
        var incoming = http.Request.Headers[HeaderName].ToString();
        KeyValuePair<string, object>[] ids = IsAcceptableClientId(incoming)
            ? [new(Logging.LogScopes.GatewayRequestId, id), new(Logging.LogScopes.ClientRequestId, incoming)]
            : [new(Logging.LogScopes.GatewayRequestId, id)];
        using (logger.BeginScope(ids))
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(http);
            }
            finally
            {
                LogAnswer(logger, http, started);
            }
        }
    }

    /// <summary>The access line of an answer (the Vault writes its own with it): method, route template, status, time.</summary>
    public static void LogAnswer(ILogger logger, HttpContext http, long startedTimestamp) =>
        Answered(logger, http.Request.Method, RouteOf(http) ?? "(no route)",
            http.Response.StatusCode, Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds);

    /// <summary>
    /// The route template of the endpoint that answered. The exception handler clears the endpoint before it writes the
    /// problem of a thrown 404 or 503 and keeps it in its feature (as ASP.NET Core's own metrics read it).
    /// </summary>
    private static string? RouteOf(HttpContext http) =>
        ((http.GetEndpoint() ?? http.Features.Get<IExceptionHandlerFeature>()?.Endpoint) as RouteEndpoint)?.RoutePattern.RawText;

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Route} answered {Status} in {ElapsedMs:0.0} ms")]
    private static partial void Answered(ILogger logger, string method, string route, int status, double elapsedMs);

    /// <summary>
    /// Whether a caller's own id is logged (as <c>client_request_id</c>, never as the answer's): up to 64 letters, digits
    /// and <c>-_.:</c>, no card number. Nothing a log viewer could take for markup or a second field.
    /// </summary>
    public static bool IsAcceptableClientId(string value) =>
        value.Length is > 0 and <= 64
        && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')
        && !CardNumberDetector.ContainsCardNumber(value);
}
