using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Payments.BuildingBlocks.Http;

/// <summary>
/// For a POST that takes no fields (cancel, settle, redeliver): no body, or <c>{}</c>. Anything else is refused as it
/// is on the routes with fields, before the route acts: a cancel with <c>{"x":1}</c> or a text/plain body canceled.
/// </summary>
public static class NoFields
{
    public static async Task RefuseAnyAsync(HttpContext http, CancellationToken ct)
    {
        var request = http.Request;
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        if (buffer.Length == 0)
        {
            return;
        }
        if (!JsonBodyText.IsJson(request.ContentType))
        {
            throw new ProblemException(415, ErrorCodes.UnsupportedMediaType, "The request body must be application/json.");
        }
        var json = JsonBodyText.ToUtf8(request.ContentType, buffer.GetBuffer().AsMemory(0, (int)buffer.Length))
                   ?? throw ProblemException.Validation(JsonBodyCheck.BodyField, JsonBodyText.NotUtf8);
        if (JsonBodyCheck.FindFault(json.Span) is { } fault)
        {
            throw ProblemException.Validation(fault.Field, fault.Message);
        }
        using var document = JsonDocument.Parse(json);
        var errors = new Dictionary<string, string[]>();
        foreach (var field in document.RootElement.EnumerateObject())
        {
            errors.TryAdd(Problems.EchoableName(field.Name, JsonBodyCheck.BodyField), ["Unknown field."]);
        }
        if (errors.Count > 0)
        {
            throw new ProblemException(400, ErrorCodes.ValidationFailed, "This route takes no fields: send no body, or {}.", errors);
        }
    }
}
