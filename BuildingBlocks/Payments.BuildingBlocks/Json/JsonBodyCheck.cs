using System.Text.Json;
using System.Text.Unicode;
using Payments.BuildingBlocks.Text;

namespace Payments.BuildingBlocks;

/// <summary>A request body's first fault, keyed as the <c>errors</c> object keys it: the top-level field, or <c>body</c>.</summary>
public readonly record struct JsonFault(string Field, string Message);

/// <summary>
/// What a JSON request body must be before any route reads it: one well-formed object (I-JSON, RFC 7493, as the
/// idempotency fingerprint's RFC 8785 canonical form requires), no name twice in one object, every string valid
/// Unicode without control characters. One pass of the reader; a fault deeper down is keyed by its top-level field.
/// </summary>
public static class JsonBodyCheck
{
    public const string BodyField = "body";
    public const string NotJson = "The body is not valid JSON.";
    public const string NotAnObject = "The body must be a JSON object.";
    public const string Repeated = "The field is repeated.";

    public static JsonFault? FindFault(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        var names = new Stack<HashSet<string>>();
        string? field = null;
        try
        {
            if (!reader.Read())
            {
                return new(BodyField, NotJson);
            }
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                // Still read to the end: malformed JSON is told as such whatever its first token.
                reader.Skip();
                return reader.Read() ? new(BodyField, NotJson) : new(BodyField, NotAnObject);
            }
            names.Push(new HashSet<string>(StringComparer.Ordinal));
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        names.Push(new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.EndObject:
                        names.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        var name = reader.GetString()!;
                        var topLevel = names.Count == 1;
                        if (MerchantText.HasControlCharacters(name))
                        {
                            // A top-level name with controls is not echoed as an errors key.
                            return new(topLevel ? BodyField : field!, "Names must not contain control characters.");
                        }
                        if (topLevel)
                        {
                            field = name;
                        }
                        if (!names.Peek().Add(name))
                        {
                            return new(field!, topLevel ? Repeated : "Holds a name twice.");
                        }
                        break;
                    case JsonTokenType.String:
                        // Only an escaped string can hold a control character: the reader refuses them raw.
                        if (reader.ValueIsEscaped ? MerchantText.HasControlCharacters(reader.GetString()) : !Utf8.IsValid(reader.ValueSpan))
                        {
                            return new(field ?? BodyField, reader.ValueIsEscaped ? MerchantText.ControlCharacterMessage : InvalidText);
                        }
                        break;
                }
            }
            return null;
        }
        catch (JsonException)
        {
            return new(BodyField, NotJson);
        }
        catch (InvalidOperationException)
        {
            // GetString: an escaped lone surrogate or invalid UTF-8.
            return new(field ?? BodyField, InvalidText);
        }
    }

    private const string InvalidText = "Must be valid UTF-8 text.";
}
