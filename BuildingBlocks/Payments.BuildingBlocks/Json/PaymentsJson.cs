using System.Text.Json;
using System.Text.Json.Serialization;

namespace Payments.BuildingBlocks;

/// <summary>The wire format of the merchant API: snake_case, nulls written, no comments or trailing commas.</summary>
public static class PaymentsJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions o)
    {
        o.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        o.DictionaryKeyPolicy = null;
        o.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        o.NumberHandling = JsonNumberHandling.Strict;
        o.ReadCommentHandling = JsonCommentHandling.Disallow;
        o.AllowTrailingCommas = false;
        // A misspelt field ("ammount") is refused rather than silently ignored.
        o.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        // I-JSON (RFC 7493), which the idempotency fingerprint's RFC 8785 form assumes: a name given twice is refused,
        // in objects and dictionaries alike, instead of the last one silently winning.
        o.AllowDuplicateProperties = false;
        if (!o.Converters.OfType<UtcTimestampConverter>().Any())
        {
            o.Converters.Add(new UtcTimestampConverter());
        }
        return o;
    }
}
