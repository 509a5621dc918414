using System.Diagnostics;
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
/// A caller's own id is kept when it is short printable ASCII, so merchants can correlate, and holds no card number:
/// the id travels where merchant text does not (the Vault's audit record of a signed call, span attributes).
/// </summary>
public sealed partial class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    public const string HeaderName = "Request-Id";
    public const string ItemKey = "payments.request_id";

    public async Task InvokeAsync(HttpContext http)
    {
        var incoming = http.Request.Headers[HeaderName].ToString();
        var id = IsAcceptable(incoming) ? incoming : PrefixedId.New("req");
        http.Items[ItemKey] = id;
        http.TraceIdentifier = id;
        http.Response.OnStarting(static state =>
        {
            var (ctx, rid) = ((HttpContext, string))state;
            ctx.Response.Headers[HeaderName] = rid;
            return Task.CompletedTask;
        }, (http, id));
        using (logger.BeginScope(new KeyValuePair<string, object>[] { new(Logging.LogScopes.GatewayRequestId, id) }))
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
        Answered(logger, http.Request.Method, (http.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(no route)",
            http.Response.StatusCode, Stopwatch.GetElapsedTime(startedTimestamp).TotalMilliseconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Route} answered {Status} in {ElapsedMs:0.0} ms")]
    private static partial void Answered(ILogger logger, string method, string route, int status, double elapsedMs);

    /// <summary>Whether a caller's id may be kept (the Vault applies the same rule to its own answers).</summary>
    public static bool IsAcceptable(string value) =>
        value.Length is > 0 and <= 128 && value.All(c => c is >= '!' and <= '~') && !CardNumberDetector.ContainsCardNumber(value);
}
