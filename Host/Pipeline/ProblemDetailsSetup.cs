using Microsoft.AspNetCore.Diagnostics;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.Vault.Contracts;
using StackExchange.Redis;

namespace Payments.Host.Pipeline;

internal static class ProblemDetailsSetup
{
    /// <summary>The 413's detail, wherever the body limit is found out (Kestrel, a chunked body, a declared length).</summary>
    public const string BodyTooLarge = "The request body is larger than 64 KiB.";

    /// <summary>Every error the Host writes, from a slice, the framework or an unknown route, is one RFC 9457 shape.</summary>
    public static IServiceCollection AddGatewayProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var status = ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode;
            if (!ctx.ProblemDetails.Extensions.ContainsKey("code"))
            {
                var code = ErrorCodes.ForStatus(status);
                var shaped = Problems.Create(ctx.HttpContext, status, code, DetailFor(status, ctx.HttpContext));
                ctx.ProblemDetails.Type = shaped.Type;
                ctx.ProblemDetails.Title = shaped.Title;
                ctx.ProblemDetails.Detail = shaped.Detail;
                foreach (var (k, v) in shaped.Extensions)
                {
                    ctx.ProblemDetails.Extensions[k] = v;
                }
            }
            ctx.ProblemDetails.Instance = Problems.InstanceOf(ctx.HttpContext);
            // The framework adds its own trace id; the Request-Id is ours.
            ctx.ProblemDetails.Extensions.Remove("traceId");
            ctx.ProblemDetails.Extensions.Remove("trace_id");
        });
        services.AddExceptionHandler<GatewayExceptionHandler>();
        return services;
    }

    public static Task WriteStatusProblemAsync(HttpContext http)
    {
        var status = http.Response.StatusCode;
        if (status == 405 && http.Response.Headers.Allow is { Count: > 0 } allow)
        {
            // Routing lists the routes' methods; every GET route also serves HEAD (GatewayPipeline.RouteHeadAsGet).
            var methods = allow.SelectMany(a => (a ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
            if (methods.Contains(HttpMethods.Get) && !methods.Contains(HttpMethods.Head))
            {
                methods.Insert(methods.IndexOf(HttpMethods.Get) + 1, HttpMethods.Head);
                http.Response.Headers.Allow = string.Join(", ", methods);
            }
        }
        return Problems.WriteAsync(http, status, ErrorCodes.ForStatus(status), DetailFor(status, http));
    }

    private static string DetailFor(int status, HttpContext http) => status switch
    {
        // The path as the problem's instance names it: card numbers redacted.
        404 => $"No route matches {http.Request.Method} {Problems.InstanceOf(http)}.",
        405 => $"{http.Request.Method} is not allowed on {Problems.InstanceOf(http)}.",
        401 => "A valid bearer token is required.",
        413 => BodyTooLarge,
        415 => "The request body must be application/json.",
        _ => Problems.TitleFor(status),
    };
}

/// <summary>
/// Turns exceptions into answers: a slice's <see cref="ProblemException"/> as itself, an unreachable
/// dependency as 503 with <c>Retry-After</c>, anything else as a 500 that shows no internals.
/// </summary>
internal sealed class GatewayExceptionHandler(ILogger<GatewayExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (http.Response.HasStarted)
        {
            return false;
        }
        switch (exception)
        {
            case ProblemException p:
                await Problems.WriteAsync(http, p);
                return true;
            case BadHttpRequestException bad:
                await Problems.WriteAsync(http, bad.StatusCode, ErrorCodes.ForStatus(bad.StatusCode),
                    bad.StatusCode == 413 ? ProblemDetailsSetup.BodyTooLarge : "The request could not be read.");
                return true;
            case var e when IsUnavailable(e):
                logger.LogWarning(e, "A dependency is unavailable");
                await Problems.WriteAsync(http, 503, ErrorCodes.ServiceUnavailable,
                    "The gateway cannot complete the request right now. Retry after Retry-After with the same Idempotency-Key: the retry " +
                    "answers with this request's outcome (a call to the card vault may have been under way), and nothing happens twice.",
                    retryAfterSeconds: 1);
                return true;
            case OperationCanceledException when http.RequestAborted.IsCancellationRequested:
                return true;
            default:
                logger.LogError(exception, "Unhandled exception");
                await Problems.WriteAsync(http, 500, ErrorCodes.InternalError, "An unexpected error occurred.");
                return true;
        }
    }

    internal static bool IsUnavailable(Exception e) => e switch
    {
        VaultUnavailableException or RedisConnectionException or RedisTimeoutException or TimeoutException => true,
        NpgsqlException n => PostgresDataSource.IsUnreachable(n),
        _ when e.InnerException is { } inner => IsUnavailable(inner),
        _ => false,
    };
}
