using System.Diagnostics;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Ids;
using Payments.BuildingBlocks.Logging;
using Payments.Vault.Audit;

namespace Payments.Vault;

/// <summary>
/// Headers every answer of the Vault carries, on every listener, written as the answer starts (the exception handler
/// clears what was set before): <c>Request-Id</c> as the contract says, then the Host's
/// <see cref="StandardResponseHeaders"/> (<c>nosniff</c>; <c>no-store</c> on the JSON API, <c>/v1</c> and
/// <c>/internal</c>, so a card token or fingerprint stays out of browser and proxy caches).
/// </summary>
internal static class VaultResponseHeaders
{
    public static IApplicationBuilder UseVaultResponseHeaders(this IApplicationBuilder app)
    {
        // Made once: the factory takes a lock per call, and this runs on every request.
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Payments.Vault.Requests");
        return app.Use(async (http, next) =>
        {
            // Our own id, never a header's: it lands in audit rows (answer_request_id), so a caller must not choose it
            // (ADR 118). Logged as request_id, like the Host's; a verified signed call logs the Host's id from its token
            // instead (the innermost scope), so its answer names that one.
            var id = PrefixedId.New("req");
            http.Items[RequestIdMiddleware.ItemKey] = id;
            http.Response.OnStarting(static state =>
            {
                var ctx = (HttpContext)state;
                ctx.Response.Headers[RequestIdMiddleware.HeaderName] = AnswerIdOf(ctx);
                return Task.CompletedTask;
            }, http);
            using (logger.BeginScope(new KeyValuePair<string, object>[] { new(LogScopes.GatewayRequestId, id) }))
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await next(http);
                }
                finally
                {
                    // One line per answer the Host did not sign for, under the id it carried, so every id the Vault hands
                    // out (the card page's and the card route's included) is in its log. A verified service call has its
                    // own line already ("Service call …", ServiceTokenEndpoints), under the Host's id. The route
                    // template, never the path.
                    if (AuditOrigin.HostRequestId(http) is null)
                    {
                        KeyValuePair<string, object>[] ids = http.TraceIdentifier.StartsWith("vrq_", StringComparison.Ordinal)
                            ? [new(LogScopes.GatewayRequestId, id), new(LogScopes.VaultRequestId, http.TraceIdentifier)]
                            : [new(LogScopes.GatewayRequestId, id)];
                        using (logger.BeginScope(ids))
                        {
                            RequestIdMiddleware.LogAnswer(logger, http, started);
                        }
                    }
                }
            }
        }).UseStandardResponseHeaders("/v1", "/internal");
    }

    /// <summary>The id an answer names, in its Request-Id header and a problem's request_id: the Host's for a verified
    /// signed call, else our own.</summary>
    public static string? AnswerIdOf(HttpContext http) =>
        AuditOrigin.HostRequestId(http) is { Length: > 0 } hostId ? hostId : http.Items[RequestIdMiddleware.ItemKey] as string;
}

/// <summary>
/// Kestrel refuses a body over the 16 KiB limit (or one it cannot read) by throwing where a route reads it: that is
/// the caller's fault, so its status (413, 400) as a problem, not the 500 of an unexpected exception.
/// </summary>
internal sealed class VaultExceptionHandler : Microsoft.AspNetCore.Diagnostics.IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (http.Response.HasStarted)
        {
            return false;
        }
        if (exception is PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } stale
            && stale.MessageText.StartsWith("KEK version", StringComparison.Ordinal))
        {
            // The KEK was rotated under this running Vault: it can add no key until it restarts with the new components
            // (0004_key_custody.sql). Not the caller's fault, and over once it restarts.
            await VaultResults.Problem(503, ErrorCodes.ServiceUnavailable, "The card vault is being re-keyed; retry shortly.",
                retryAfterSeconds: 30).ExecuteAsync(http);
            return true;
        }
        if (IsDatabaseUnreachable(exception))
        {
            // The Vault's database is down or restarting: over once it is back, as the Host says of its own (503).
            await VaultResults.Problem(503, ErrorCodes.ServiceUnavailable, "The card vault cannot reach its database; retry shortly.",
                retryAfterSeconds: 1).ExecuteAsync(http);
            return true;
        }
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }
        await VaultResults.Problem(bad.StatusCode, ErrorCodes.ForStatus(bad.StatusCode),
            bad.StatusCode == 413 ? "The body is larger than 16 KiB." : "The request could not be read.").ExecuteAsync(http);
        return true;
    }

    /// <summary>The Host's rule (<see cref="PostgresDataSource.IsUnreachable"/>), on the exception or one it wraps.</summary>
    internal static bool IsDatabaseUnreachable(Exception e) => e switch
    {
        NpgsqlException n when PostgresDataSource.IsUnreachable(n) => true,
        _ when e.InnerException is { } inner => IsDatabaseUnreachable(inner),
        _ => false,
    };
}
