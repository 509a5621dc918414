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

    /// <summary>Written digit by digit: on every answer, several times, where a format string is parsed on each call.</summary>
    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        var t = value.UtcDateTime;
        Span<byte> text = stackalloc byte[27]; // yyyy-MM-ddTHH:mm:ss.ffffffZ
        Digits(text[..4], t.Year);
        text[4] = (byte)'-';
        Digits(text.Slice(5, 2), t.Month);
        text[7] = (byte)'-';
        Digits(text.Slice(8, 2), t.Day);
        text[10] = (byte)'T';
        Digits(text.Slice(11, 2), t.Hour);
        text[13] = (byte)':';
        Digits(text.Slice(14, 2), t.Minute);
        text[16] = (byte)':';
        Digits(text.Slice(17, 2), t.Second);
        text[19] = (byte)'.';
        Digits(text.Slice(20, 6), (int)(t.Ticks % TimeSpan.TicksPerSecond / 10));
        text[26] = (byte)'Z';
        writer.WriteStringValue(text);
    }

    private static void Digits(Span<byte> into, int value)
    {
        for (var i = into.Length - 1; i >= 0; i--)
        {
            into[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
