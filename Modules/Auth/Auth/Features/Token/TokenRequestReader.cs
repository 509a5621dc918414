using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Http;

namespace Payments.Auth.Features.Token;

internal sealed record ClientCredentials(string ClientId, string ClientSecret);

/// <summary>
/// Reads client credentials from HTTP Basic, a JSON body <c>{"client_id","client_secret"}</c> (a <c>grant_type</c>
/// member, which OAuth libraries add, must then be <c>client_credentials</c>), or an RFC 6749 §4.4 form
/// (<c>grant_type=client_credentials</c>), whose parameters the endpoint does not know are ignored as RFC 6749 §3.2
/// requires. Exactly one of them; anything else is a 400, 413 or 415 problem (the OAuth <c>error</c> member alongside
/// our <c>code</c>).
/// </summary>
internal static class TokenRequestReader
{
    public const int MaxBodyBytes = 64 * 1024;
    private const int MaxFieldLength = 256;
    private static readonly HashSet<string> JsonFields = ["client_id", "client_secret", "grant_type"];
    private static readonly HashSet<string> FormFields = ["grant_type", "client_id", "client_secret", "scope"];

    public static async Task<ClientCredentials> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        var basic = ReadBasic(request);
        var body = await ReadBodyAsync(request, ct);
        var errors = new Dictionary<string, string[]>();
        string? id = null, secret = null;

        if (body.Length > 0 || !string.IsNullOrEmpty(request.ContentType))
        {
            if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var media))
            {
                throw UnsupportedMediaType();
            }
            if (JsonBodyText.IsJson(request.ContentType))
            {
                (id, secret) = JsonBodyText.ToUtf8(request.ContentType, body) is { } json
                    ? ParseJson(json, errors)
                    : throw new TokenRequestException(400, ErrorCodes.ValidationFailed, "invalid_request", JsonBodyText.NotUtf8,
                        new Dictionary<string, string[]> { ["body"] = [JsonBodyText.NotUtf8] });
            }
            else if (media.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
            {
                (id, secret) = ParseForm(body, errors);
            }
            else
            {
                throw UnsupportedMediaType();
            }
        }

        if (basic is not null)
        {
            if (id is not null || secret is not null)
            {
                errors["body"] = ["Send the client credentials either with HTTP Basic or in the body, not both."];
            }
            (id, secret) = (basic.ClientId, basic.ClientSecret);
        }
        else
        {
            if (string.IsNullOrEmpty(id) && !errors.ContainsKey("client_id"))
            {
                errors["client_id"] = ["client_id is required."];
            }
            if (string.IsNullOrEmpty(secret) && !errors.ContainsKey("client_secret"))
            {
                errors["client_secret"] = ["client_secret is required."];
            }
        }
        if (id is { Length: > MaxFieldLength })
        {
            errors["client_id"] = ["client_id is too long."];
        }
        if (secret is { Length: > MaxFieldLength })
        {
            errors["client_secret"] = ["client_secret is too long."];
        }
        // No issued credential holds a control character, and a NUL cannot even reach PostgreSQL's text type.
        if (id is not null && id.Any(char.IsControl) && !errors.ContainsKey("client_id"))
        {
            errors["client_id"] = ["client_id must not contain control characters."];
        }
        if (secret is not null && secret.Any(char.IsControl) && !errors.ContainsKey("client_secret"))
        {
            errors["client_secret"] = ["client_secret must not contain control characters."];
        }
        if (errors.Count > 0)
        {
            throw new TokenRequestException(400, ErrorCodes.ValidationFailed, "invalid_request", "The token request is not valid.", errors);
        }
        return new ClientCredentials(id!, secret!);
    }

    private static ClientCredentials? ReadBasic(HttpRequest request)
    {
        var headers = request.Headers.Authorization;
        if (headers.Count == 0)
        {
            return null;
        }
        var value = headers.Count == 1 ? headers[0] ?? "" : "";
        if (!value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            throw Malformed("The token endpoint takes HTTP Basic client authentication or credentials in the body.");
        }
        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, true).GetString(Convert.FromBase64String(value["Basic ".Length..].Trim()));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw Malformed("The Basic credentials are not valid base64 of UTF-8.");
        }
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == decoded.Length - 1)
        {
            throw Malformed("The Basic credentials must be 'client_id:client_secret'.");
        }
        // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        return new ClientCredentials(Uri.UnescapeDataString(decoded[..colon].Replace('+', ' ')),
            Uri.UnescapeDataString(decoded[(colon + 1)..].Replace('+', ' ')));
    }

    /// <summary>The whole body, at most <see cref="MaxBodyBytes"/> (413 past it); the revoke route reads its body the same way.</summary>
    internal static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            throw TooLarge();
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw TooLarge();
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static (string? Id, string? Secret) ParseJson(ReadOnlyMemory<byte> body, Dictionary<string, string[]> errors)
    {
        string? id = null, secret = null;
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors["body"] = ["The body must be a JSON object."];
                return (null, null);
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!JsonFields.Contains(p.Name))
                {
                    errors[Problems.EchoableName(p.Name, "body")] = ["Unknown field."];
                    continue;
                }
                if (!seen.Add(p.Name))
                {
                    errors[p.Name] = ["The field is repeated."];
                    continue;
                }
                if (p.Name == "grant_type" && p.Value.ValueKind == JsonValueKind.Null)
                {
                    continue; // optional here; a generated client sends null for it
                }
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    errors[p.Name] = ["Must be a string."];
                    continue;
                }
                if (p.Name == "grant_type")
                {
                    if (p.Value.GetString() != "client_credentials")
                    {
                        throw UnsupportedGrant();
                    }
                }
                else if (p.Name == "client_id")
                {
                    id = p.Value.GetString();
                }
                else
                {
                    secret = p.Value.GetString();
                }
            }
        }
        catch (JsonException)
        {
            errors["body"] = ["The body is not valid JSON."];
        }
        return (id, secret);
    }

    private static (string? Id, string? Secret) ParseForm(byte[] body, Dictionary<string, string[]> errors)
    {
        if (DecodeForm(body) is not { } form)
        {
            errors["body"] = [FormNotUtf8];
            return (null, null);
        }
        foreach (var (name, values) in form)
        {
            // RFC 6749 §3.2: parameters the endpoint does not know are ignored (a client library may add audience or
            // resource); only its own may not be repeated.
            if (FormFields.Contains(name) && values.Count != 1)
            {
                errors[name] = ["The field is repeated."];
            }
        }
        if (!form.TryGetValue("grant_type", out var grant))
        {
            errors["grant_type"] = ["grant_type is required."];
        }
        else if (grant.Count == 1 && grant[0] != "client_credentials")
        {
            throw UnsupportedGrant();
        }
        string? One(string name) => form.TryGetValue(name, out var v) && v.Count == 1 ? v[0] : null;
        return (One("client_id"), One("client_secret"));
    }

    internal const string FormNotUtf8 = "The form is not valid UTF-8.";

    /// <summary>An <c>application/x-www-form-urlencoded</c> body's fields, or null when it is not valid UTF-8.</summary>
    internal static Dictionary<string, Microsoft.Extensions.Primitives.StringValues>? DecodeForm(byte[] body)
    {
        try
        {
            return QueryHelpers.ParseQuery(new UTF8Encoding(false, true).GetString(body));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static TokenRequestException UnsupportedGrant() =>
        new(400, ErrorCodes.ValidationFailed, "unsupported_grant_type", "Only grant_type=client_credentials is supported.",
            new Dictionary<string, string[]> { ["grant_type"] = ["Must be client_credentials."] });

    private static TokenRequestException Malformed(string detail) =>
        new(400, ErrorCodes.ValidationFailed, "invalid_request", detail,
            new Dictionary<string, string[]> { ["authorization"] = [detail] });

    private static TokenRequestException TooLarge() =>
        new(413, ErrorCodes.PayloadTooLarge, "invalid_request", "The request body is larger than 64 KiB.");

    private static TokenRequestException UnsupportedMediaType() =>
        new(415, ErrorCodes.UnsupportedMediaType, "invalid_request",
            "The token request body must be application/json or application/x-www-form-urlencoded.");
}

/// <summary>A refusal of the token endpoint: our problem shape plus the OAuth <c>error</c> member (RFC 6749 §5.2).</summary>
internal sealed class TokenRequestException(int status, string code, string error, string detail,
    IReadOnlyDictionary<string, string[]>? errors = null) : Exception(detail)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public string Error { get; } = error;
    public IReadOnlyDictionary<string, string[]>? Errors { get; } = errors;
    public int? RetryAfterSeconds { get; init; }
}
