using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Http;

namespace Payments.Vault;

/// <summary>RFC 9457 problems in the merchant API's shape (<c>code</c> included); never echo submitted card data.</summary>
internal static class VaultResults
{
    public static IResult Problem(int status, string code, string detail, IDictionary<string, string[]>? errors = null,
        int? retryAfterSeconds = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = code };
        if (errors is not null)
        {
            extensions["errors"] = errors;
        }
        var result = Results.Problem(statusCode: status, detail: detail, extensions: extensions);
        return retryAfterSeconds is { } s ? new WithRetryAfter(result, s) : result;
    }

    /// <summary>
    /// Every problem the Vault writes, its own and the framework's (404, 405), in the merchant API's shape: the Host's
    /// title for the status, a <c>code</c>, a <c>detail</c>, the answer's Request-Id as <c>request_id</c> instead of the
    /// framework's trace id, and, where the Host's public URL is configured (run.sh does), the Host's page for the code
    /// as <c>type</c> (docs/adr/0100) rather than the HTTP specification's section for the status.
    /// </summary>
    public static void Shape(ProblemDetailsContext ctx)
    {
        var http = ctx.HttpContext;
        var problem = ctx.ProblemDetails;
        var status = problem.Status ?? http.Response.StatusCode;
        var code = problem.Extensions.TryGetValue("code", out var c) && c is string s ? s : ErrorCodes.ForStatus(status);
        problem.Extensions.Remove("traceId");
        problem.Extensions.Remove("trace_id");
        problem.Extensions["code"] = code;
        // The Host's titles ("Not found", not the framework's "Not Found"): one gateway, one way of saying a status.
        problem.Title = Problems.TitleFor(status);
        problem.Detail ??= problem.Title;
        if (VaultResponseHeaders.AnswerIdOf(http) is { } requestId)
        {
            problem.Extensions["request_id"] = requestId;
        }
        if (http.RequestServices.GetService<IOptions<GatewayOptions>>()?.Value.PublicBaseUrl is not null)
        {
            problem.Type = Problems.TypeFor(http, code);
        }
    }

    private sealed class WithRetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
