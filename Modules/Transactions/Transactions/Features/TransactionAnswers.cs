using System.Globalization;
using Microsoft.AspNetCore.Http;
using Payments.BuildingBlocks.Http;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features;

internal static class TransactionAnswers
{
    /// <summary>Writes exactly the bytes stored for the idempotency key, with the strong ETag.</summary>
    public static async Task WriteAsync(HttpContext http, int status, byte[] body, long version, CancellationToken ct)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.Headers.ETag = TransactionStore.ETag(version);
        await http.Response.Body.WriteAsync(body, ct);
    }

    /// <summary>
    /// The version an <c>If-Match</c> asks for: null without the header or with <c>*</c>; a value that can never match
    /// (so 412) when it is not one of our strong ETags.
    /// </summary>
    public static long? IfMatch(HttpContext http)
    {
        var raw = http.Request.Headers.IfMatch.ToString().Trim();
        if (raw.Length == 0 || raw == "*")
        {
            return null;
        }
        foreach (var part in raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Length > 2 && part[0] == '"' && part[^1] == '"' &&
                long.TryParse(part[1..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            {
                return v;
            }
        }
        return -1;
    }

    public static ProblemException NotFound() => ProblemException.NotFound("The transaction");
}
