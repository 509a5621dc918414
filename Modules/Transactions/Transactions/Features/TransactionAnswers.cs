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
        if (status == StatusCodes.Status200OK && HttpMethods.IsGet(http.Request.Method) && EntityTags.NoneMatchNames(http, version))
        {
            // The client holds this version already (If-None-Match): 304, its ETag and no content.
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            http.Response.Headers.ETag = Changes.ETag(version);
            return;
        }
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        http.Response.Headers.ETag = Changes.ETag(version);
        await http.Response.Body.WriteAsync(body, ct);
    }


    public static ProblemException NotFound() => ProblemException.NotFound("The transaction");
}
