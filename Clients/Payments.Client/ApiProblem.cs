using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Payments.Client;

/// <summary>An RFC 9457 problem document as the gateway writes it.</summary>
public sealed class ApiProblem
{
    /// <summary>A URI naming the kind of problem.</summary>
    public string? Type { get; init; }

    /// <summary>A short summary of the status.</summary>
    public string? Title { get; init; }

    /// <summary>The HTTP status.</summary>
    public required int Status { get; init; }

    /// <summary>What went wrong, for a person.</summary>
    public string? Detail { get; init; }

    /// <summary>The stable machine code.</summary>
    public required string Code { get; init; }

    /// <summary>Validation failures keyed by field.</summary>
    public IReadOnlyDictionary<string, string[]> Errors { get; init; } = new Dictionary<string, string[]>();

    /// <summary>The gateway's request id.</summary>
    public string? RequestId { get; init; }

    /// <summary>The <c>Retry-After</c> the gateway sent, if any.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// Reads a problem from an error answer. A body that is not a problem (a proxy's HTML page) still yields a
    /// problem with a code derived from the status, so callers always get a typed exception.
    /// </summary>
    public static ApiProblem Parse(HttpStatusCode status, string? body, HttpResponseHeaders? headers = null)
    {
        string? type = null, title = null, detail = null, code = null, requestId = null;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!string.IsNullOrWhiteSpace(body))
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    var root = doc.RootElement;
                    type = StringOf(root, "type");
                    title = StringOf(root, "title");
                    detail = StringOf(root, "detail");
                    code = StringOf(root, "code") ?? StringOf(root, "error");
                    requestId = StringOf(root, "request_id");
                    if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var field in e.EnumerateObject())
                        {
                            errors[field.Name] = field.Value.ValueKind switch
                            {
                                JsonValueKind.Array => field.Value.EnumerateArray().Select(m => m.ValueKind == JsonValueKind.String ? m.GetString() ?? "" : m.GetRawText()).ToArray(),
                                JsonValueKind.String => [field.Value.GetString() ?? ""],
                                _ => [field.Value.GetRawText()],
                            };
                        }
                    }
                }
            }
            catch (JsonException)
            {
                // Not JSON: keep the status-derived code below.
            }
        }
        if (requestId is null && headers is not null && headers.TryGetValues("Request-Id", out var ids))
        {
            requestId = ids.FirstOrDefault();
        }
        return new ApiProblem
        {
            Type = type,
            Title = title,
            Status = (int)status,
            Detail = detail,
            Code = code ?? CodeFor((int)status),
            Errors = errors,
            RequestId = requestId,
            RetryAfter = RetryAfterOf(headers),
        };
    }

    internal static TimeSpan? RetryAfterOf(HttpResponseHeaders? headers)
    {
        var value = headers?.RetryAfter;
        if (value?.Delta is { } delta)
        {
            return delta;
        }
        if (value?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        if (headers is not null && headers.TryGetValues("Retry-After", out var raw)
            && int.TryParse(raw.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }
        return null;
    }

    private static string? StringOf(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string CodeFor(int status) => status switch
    {
        400 => "validation_failed",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        412 => "precondition_failed",
        413 => "payload_too_large",
        429 => "rate_limited",
        503 => "service_unavailable",
        >= 500 => "internal_error",
        _ => "http_" + status.ToString(CultureInfo.InvariantCulture),
    };
}
