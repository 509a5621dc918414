using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FastEndpoints;
using FluentValidation.Results;
using Microsoft.Net.Http.Headers;
using Payments.BuildingBlocks;

namespace Payments.Host.Pipeline;

/// <summary>
/// How every FastEndpoints route reads its JSON body, and how a body it cannot read is answered: the errors keyed by
/// the top-level field as the client sent it, or <c>body</c>, in the gateway's words. The framework's own messages
/// name .NET types and byte positions, and its binding messages echo the value, which may be card data.
/// </summary>
internal static class JsonRequestBodies
{
    public static void Configure(Config c)
    {
        c.Serializer.RequestDeserializer = (request, type, context, ct) => ReadAsync(request, type, context?.Options ?? c.Serializer.Options, ct);
        c.Binding.JsonExceptionTransformer = e => e is JsonBindException b
            ? new ValidationFailure(b.FieldName, b.FailureMessage)
            : new ValidationFailure(JsonBodyCheck.BodyField, JsonBodyCheck.NotJson);
        // Route and query values bound to a request: the expectation, never the value or its .NET type.
        c.Binding.FailureMessage = (type, _, _) => Expectation(type);
    }

    private static async ValueTask<object?> ReadAsync(HttpRequest request, Type type, JsonSerializerOptions options, CancellationToken ct)
    {
        // Whole bodies are at most 64 KiB (Kestrel's limit): read once, checked, then bound from the same bytes.
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, ct);
        var json = JsonBodyText.ToUtf8(request.ContentType, buffer.GetBuffer().AsMemory(0, (int)buffer.Length))
                   ?? throw Refusal(JsonBodyCheck.BodyField, JsonBodyText.NotUtf8);
        if (JsonBodyCheck.FindFault(json.Span) is { } fault)
        {
            throw Refusal(fault.Field, fault.Message);
        }
        try
        {
            return JsonSerializer.Deserialize(json.Span, type, options);
        }
        catch (JsonException e)
        {
            throw Describe(e, type, options);
        }
    }

    /// <summary>The body is well-formed (checked above), so what is left is a name or a value the type does not take.</summary>
    private static JsonBindException Describe(JsonException e, Type type, JsonSerializerOptions options)
    {
        if (TopLevelName(e.Path) is not { } field)
        {
            return Refusal(JsonBodyCheck.BodyField, JsonBodyCheck.NotAnObject);
        }
        var property = options.GetTypeInfo(type).Properties.FirstOrDefault(p => p.Name == field);
        return property is null
            ? Refusal(field, "Unknown field.")
            : Refusal(field, Expectation(property.PropertyType));
    }

    /// <summary>The first member of a JSON path as System.Text.Json writes it: <c>$.name…</c> or <c>$['odd name']…</c>.</summary>
    private static string? TopLevelName(string? path)
    {
        if (path is null || path.Length < 3)
        {
            return null;
        }
        if (path.StartsWith("$.", StringComparison.Ordinal))
        {
            var end = path.IndexOfAny(['.', '['], 2);
            return path[2..(end < 0 ? path.Length : end)];
        }
        if (path.StartsWith("$['", StringComparison.Ordinal))
        {
            var end = path.IndexOf("']", 3, StringComparison.Ordinal);
            return end < 0 ? null : path[3..end];
        }
        return null;
    }

    private static string Expectation(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return "Must be a string.";
        }
        if (type == typeof(long) || type == typeof(int) || type == typeof(short))
        {
            return "Must be an integer.";
        }
        if (type == typeof(bool))
        {
            return "Must be true or false.";
        }
        if (type == typeof(DateTimeOffset) || type == typeof(DateTime))
        {
            return "Must be an ISO 8601 timestamp.";
        }
        if (typeof(IDictionary<string, string>).IsAssignableFrom(type))
        {
            return "Must be an object of string values.";
        }
        if (typeof(IEnumerable<string>).IsAssignableFrom(type))
        {
            return "Must be an array of strings.";
        }
        return "Is not valid here.";
    }

    private static JsonBindException Refusal(string field, string message) => new(field, message, new JsonException(message));
}

/// <summary>
/// Request objects are bound from the JSON body alone. By default FastEndpoints also binds query and route values onto
/// them, over the body: <c>?amount=5</c> changed a refund's amount outside the idempotency fingerprint (method, path
/// and body) and text there escaped the body's checks. Routes read their path values with <c>Route&lt;T&gt;</c>.
/// </summary>
internal sealed class JsonBodyBinder<TRequest>() : RequestBinder<TRequest>(BindingSource.JsonBody) where TRequest : notnull;
