using System.Globalization;
using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Payments.BuildingBlocks.Http;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features;

internal static class TransactionAnswers
{
    /// <summary>Writes exactly the bytes stored for the idempotency key, with the strong ETag.</summary>
    public static async Task WriteAsync(HttpContext http, int status, byte[] body, long version, CancellationToken ct)
    {
        http.MarkResponseStart(); // written here, not by FastEndpoints (the body may be buffered by the idempotency layer)
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.Headers.ETag = Changes.ETag(version);
        await http.Response.Body.WriteAsync(body, ct);
    }


    public static ProblemException NotFound() => ProblemException.NotFound("The transaction");
}
