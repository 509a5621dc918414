using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Payments.BuildingBlocks;

/// <summary>
/// Every timestamp the gateway writes is UTC with <c>Z</c> at PostgreSQL's precision, as the contract writes them
/// (<c>2024-03-01T12:00:00.000000Z</c>) and as <c>as_of</c> always was: the default wrote <c>+00:00</c>, with a
/// varying number of digits, and operator output escaped its <c>+</c>. Any ISO 8601 offset is read.
/// </summary>
public sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
{
    public const string Format = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture));
}
