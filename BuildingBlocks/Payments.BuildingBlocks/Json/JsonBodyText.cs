using System.Text;
using Microsoft.Net.Http.Headers;

namespace Payments.BuildingBlocks;

/// <summary>
/// Which bodies are JSON and how their bytes are read, for every route of the Host alike: the token, revoke and
/// no-field routes read their bodies themselves, and answered a BOM, a <c>+json</c> type or a charset differently from
/// the rest.
/// </summary>
public static class JsonBodyText
{
    public const string NotUtf8 = "Send the body in UTF-8.";

    /// <summary><c>application/json</c> or a structured <c>+json</c> type (RFC 6839 §3.1).</summary>
    public static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The body as UTF-8 without a byte order mark (RFC 8259 §8.1 lets a parser ignore one), or null when its declared
    /// charset is not Unicode. A body labelled UTF-16 or UTF-32 is transcoded; a legacy code page is not JSON.
    /// </summary>
    public static ReadOnlyMemory<byte>? ToUtf8(string? contentType, ReadOnlyMemory<byte> body)
    {
        if (MediaTypeHeaderValue.TryParse(contentType, out var media) && media.Charset.HasValue
            && HeaderUtilities.RemoveQuotes(media.Charset).Value is { } charset
            && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            Encoding? encoding = charset.ToLowerInvariant() switch
            {
                "utf-16" or "utf-16le" => Encoding.Unicode,
                "utf-16be" => Encoding.BigEndianUnicode,
                "utf-32" or "utf-32le" => Encoding.UTF32,
                _ => null,
            };
            if (encoding is null)
            {
                return null;
            }
            body = Encoding.UTF8.GetBytes(encoding.GetString(body.Span));
        }
        return body.Span.StartsWith(Encoding.UTF8.Preamble) ? body[Encoding.UTF8.Preamble.Length..] : body;
    }
}
