using System.Text.Json;

namespace Payments.Security.Tests.Kit;

/// <summary>A property of a request body as the OpenAPI document describes it.</summary>
internal sealed record BodyProperty(string Name, string Type, bool Required, IReadOnlyList<string> Enum, BodySchema? Nested);

internal sealed record BodySchema(IReadOnlyList<BodyProperty> Properties);

internal sealed record Parameter(string Name, string In, bool Required, string Type);

/// <summary>One operation of the merchant API, read from <c>/openapi/v1.json</c>.</summary>
internal sealed record ApiOperation(string Method, string PathTemplate, IReadOnlyList<Parameter> Parameters, BodySchema? Body, bool Anonymous)
{
    public IEnumerable<Parameter> PathParameters => Parameters.Where(p => p.In == "path");
    public IEnumerable<Parameter> QueryParameters => Parameters.Where(p => p.In == "query");
    public bool TakesBody => Method is "POST" or "PUT" or "PATCH";

    public override string ToString() => $"{Method} {PathTemplate}";
}

internal static class OpenApiOperations
{
    private static readonly string[] Methods = ["get", "post", "put", "patch", "delete"];

    // Routes the contract says need no bearer token; the OpenAPI document may also mark an operation "security": [].
    private static readonly string[] AnonymousRoutes = ["/v1/auth/token"];

    public static async Task<(IReadOnlyList<ApiOperation> Operations, IReadOnlyList<string> FieldNames)> ReadAsync(HttpClient host)
    {
        var text = await host.GetStringAsync("/openapi/v1.json");
        using var doc = JsonDocument.Parse(text);
        var root = doc.RootElement;
        var operations = new List<ApiOperation>();
        var globalSecurity = root.TryGetProperty("security", out var gs) && gs.GetArrayLength() > 0;
        if (root.TryGetProperty("paths", out var paths))
        {
            foreach (var path in paths.EnumerateObject())
            {
                var shared = path.Value.TryGetProperty("parameters", out var sp) ? ReadParameters(root, sp) : [];
                foreach (var method in Methods)
                {
                    if (!path.Value.TryGetProperty(method, out var op))
                    {
                        continue;
                    }
                    var parameters = shared.Concat(op.TryGetProperty("parameters", out var p) ? ReadParameters(root, p) : [])
                        .GroupBy(x => (x.Name, x.In)).Select(g => g.Last()).ToList();
                    // A path template's parameters exist even when the document forgot to list them.
                    foreach (var name in TemplateParameters(path.Name).Where(n => parameters.All(x => x.Name != n || x.In != "path")))
                    {
                        parameters.Add(new Parameter(name, "path", true, "string"));
                    }
                    BodySchema? body = null;
                    if (op.TryGetProperty("requestBody", out var rb) && rb.TryGetProperty("content", out var content))
                    {
                        foreach (var media in content.EnumerateObject())
                        {
                            if (media.Value.TryGetProperty("schema", out var schema))
                            {
                                body = ReadSchema(root, schema, 0);
                                break;
                            }
                        }
                    }
                    var anonymous = AnonymousRoutes.Contains(path.Name)
                                    || (op.TryGetProperty("security", out var sec) && sec.GetArrayLength() == 0 && globalSecurity);
                    operations.Add(new ApiOperation(method.ToUpperInvariant(), path.Name, parameters, body, anonymous));
                }
            }
        }
        var fieldNames = new SortedSet<string>(StringComparer.Ordinal);
        if (root.TryGetProperty("components", out var components) && components.TryGetProperty("schemas", out var schemas))
        {
            foreach (var schema in schemas.EnumerateObject())
            {
                if (schema.Value.TryGetProperty("properties", out var props))
                {
                    foreach (var prop in props.EnumerateObject())
                    {
                        fieldNames.Add(prop.Name);
                    }
                }
            }
        }
        return (operations, fieldNames.ToList());
    }

    public static IEnumerable<string> TemplateParameters(string template) =>
        template.Split('/').Where(s => s.StartsWith('{') && s.EndsWith('}')).Select(s => s[1..^1].Split(':')[0]);

    private static List<Parameter> ReadParameters(JsonElement root, JsonElement array)
    {
        var list = new List<Parameter>();
        foreach (var raw in array.EnumerateArray())
        {
            var p = Resolve(root, raw);
            var type = p.TryGetProperty("schema", out var s) ? TypeOf(Resolve(root, s)) : "string";
            list.Add(new Parameter(
                p.GetProperty("name").GetString()!,
                p.GetProperty("in").GetString()!,
                p.TryGetProperty("required", out var r) && r.GetBoolean(),
                type));
        }
        return list;
    }

    private static BodySchema? ReadSchema(JsonElement root, JsonElement schema, int depth)
    {
        schema = Resolve(root, schema);
        foreach (var combinator in new[] { "allOf", "oneOf", "anyOf" })
        {
            if (schema.TryGetProperty(combinator, out var parts) && parts.GetArrayLength() > 0)
            {
                var merged = parts.EnumerateArray().Select(x => ReadSchema(root, x, depth + 1)).Where(x => x is not null).SelectMany(x => x!.Properties).ToList();
                return new BodySchema(merged);
            }
        }
        if (!schema.TryGetProperty("properties", out var props) || depth > 4)
        {
            return null;
        }
        var required = schema.TryGetProperty("required", out var req) ? req.EnumerateArray().Select(r => r.GetString()!).ToHashSet() : [];
        var list = new List<BodyProperty>();
        foreach (var prop in props.EnumerateObject())
        {
            var ps = Resolve(root, prop.Value);
            var enums = ps.TryGetProperty("enum", out var e)
                ? e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
                : [];
            var type = TypeOf(ps);
            list.Add(new BodyProperty(prop.Name, type, required.Contains(prop.Name), enums, type == "object" ? ReadSchema(root, ps, depth + 1) : null));
        }
        return new BodySchema(list);
    }

    private static string TypeOf(JsonElement schema)
    {
        if (!schema.TryGetProperty("type", out var t))
        {
            return schema.TryGetProperty("properties", out _) ? "object" : "string";
        }
        if (t.ValueKind == JsonValueKind.String)
        {
            return t.GetString()!;
        }
        // OpenAPI 3.1: ["integer", "string"] or ["string", "null"]; the first non-null type is the field's.
        return t.EnumerateArray().Select(x => x.GetString()!).FirstOrDefault(x => x != "null") ?? "string";
    }

    private static JsonElement Resolve(JsonElement root, JsonElement element)
    {
        for (var i = 0; i < 8 && element.ValueKind == JsonValueKind.Object && element.TryGetProperty("$ref", out var r); i++)
        {
            var target = root;
            foreach (var part in r.GetString()!.TrimStart('#', '/').Split('/'))
            {
                target = target.GetProperty(part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
            }
            element = target;
        }
        return element;
    }
}
