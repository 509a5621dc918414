using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NJsonSchema;

namespace Payments.TestKit;

/// <summary>
/// Checks every answer the tests' clients receive against the server's own <c>/openapi/v1.json</c> (the Host's, or the
/// Vault's when <paramref name="documentName"/> says so; each is read once per test run): an answer
/// of a documented operation must have a documented status, and its JSON body must validate (NJsonSchema) against the
/// schema the document gives that status. A violation fails the request (and so the test) with what disagreed.
/// Answers of routes the document does not describe (unknown paths, methods, /health) are not checked.
/// </summary>
public sealed class OpenApiAnswerValidator(Func<Task<string>> loadDocument, string documentName = "host") : DelegatingHandler
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly ConcurrentDictionary<string, Contract> Shared = new(StringComparer.Ordinal);

    /// <summary>A validator that reads the document at <c>/openapi/v1.json</c> through a client of the server it checks.</summary>
    public static OpenApiAnswerValidator ReadingFrom(Func<HttpClient> plainClient, string documentName = "host") => new(async () =>
    {
        using var http = plainClient();
        return await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative));
    }, documentName);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var path = request.RequestUri!.AbsolutePath;
        if (path.StartsWith("/openapi/", StringComparison.Ordinal))
        {
            return response;
        }
        var contract = await ContractAsync();
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (contract.Check(request.Method.Method, path, (int)response.StatusCode, response.Content.Headers.ContentType, body) is { } violation)
        {
            throw new OpenApiViolationException($"{request.Method} {path} answered {(int)response.StatusCode}, which /openapi/v1.json does not allow: {violation}");
        }
        return response;
    }

    private async Task<Contract> ContractAsync()
    {
        if (Shared.TryGetValue(documentName, out var known))
        {
            return known;
        }
        await Gate.WaitAsync();
        try
        {
            // Every Host (or Vault) of a test run serves the same document: read it once.
            if (!Shared.TryGetValue(documentName, out var contract))
            {
                contract = new Contract(JsonNode.Parse(await loadDocument())!.AsObject());
                Shared[documentName] = contract;
            }
            return contract;
        }
        finally
        {
            Gate.Release();
        }
    }

    private sealed class Contract
    {
        private readonly List<(Regex Pattern, string Template, int Parameters)> paths;
        private readonly JsonObject document;
        private readonly JsonObject definitions;
        private readonly Dictionary<string, JsonSchema> schemas = new(StringComparer.Ordinal);
        private readonly Lock schemaLock = new();

        public Contract(JsonObject document)
        {
            this.document = document;
            definitions = JsonNode.Parse(document["components"]!["schemas"]!.ToJsonString().Replace("#/components/schemas/", "#/definitions/", StringComparison.Ordinal))!.AsObject();
            paths = document["paths"]!.AsObject()
                .Select(p => (new Regex("^" + Regex.Replace(Regex.Escape(p.Key), @"\\\{[^}]*}", "[^/]+") + "$"), p.Key, p.Key.Count(ch => ch == '{')))
                .OrderBy(p => p.Item3)
                .ToList();
        }

        public string? Check(string method, string path, int status, MediaTypeHeaderValue? contentType, string body)
        {
            var template = paths.FirstOrDefault(p => p.Pattern.IsMatch(path)).Template;
            if (template is null || document["paths"]![template]![method.ToLowerInvariant()] is not JsonObject operation)
            {
                return null;
            }
            if (operation["responses"]![status.ToString(System.Globalization.CultureInfo.InvariantCulture)] is not JsonObject response)
            {
                return "status not documented";
            }
            // A shared answer (the Vault's document names them under components/responses).
            if (response["$ref"]?.GetValue<string>() is { } reference && reference.StartsWith("#/components/responses/", StringComparison.Ordinal))
            {
                response = document["components"]!["responses"]![reference["#/components/responses/".Length..]]!.AsObject();
            }
            if (body.Length == 0)
            {
                return null;
            }
            var media = contentType?.MediaType ?? "";
            if (response["content"] is not JsonObject content)
            {
                return $"a {media} body where the document has none";
            }
            if (content[media]?["schema"] is not JsonNode schemaNode)
            {
                return $"content type {media} not documented";
            }
            var key = $"{method} {template} {status} {media}";
            JsonSchema schema;
            lock (schemaLock)
            {
                if (!schemas.TryGetValue(key, out schema!))
                {
                    // The answer's schema under allOf: beside a bare $ref, "definitions" would be ignored.
                    var root = new JsonObject
                    {
                        ["allOf"] = new JsonArray(JsonNode.Parse(schemaNode.ToJsonString().Replace("#/components/schemas/", "#/definitions/", StringComparison.Ordinal))),
                        ["definitions"] = definitions.DeepClone(),
                    };
                    schema = JsonSchema.FromJsonAsync(root.ToJsonString()).GetAwaiter().GetResult();
                    schemas[key] = schema;
                }
            }
            var errors = schema.Validate(body);
            return errors.Count == 0 ? null : string.Join("; ", errors.Select(e => e.ToString()));
        }
    }
}

/// <summary>An answer that the server's OpenAPI document does not allow.</summary>
public sealed class OpenApiViolationException(string message) : Exception(message);
