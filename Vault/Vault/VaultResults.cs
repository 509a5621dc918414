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

    private sealed class WithRetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }
}
