using System.Globalization;
using System.Text.Json;
using Payments.BuildingBlocks;

namespace Payments.IntegrationTests.Foundation;

/// <summary>The timestamp writer formats by hand for speed; it must write what the format string would, for any instant.</summary>
public sealed class TimestampFormatTests
{
    [Fact]
    public void Every_instant_is_written_as_the_format_says_in_UTC_and_read_back_to_the_microsecond()
    {
        var random = new Random(20261205);
        var from = new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero).Ticks;
        var to = new DateTimeOffset(2200, 1, 1, 0, 0, 0, TimeSpan.Zero).Ticks;
        var instants = Enumerable.Range(0, 20_000)
            .Select(_ => new DateTimeOffset(random.NextInt64(from, to), TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(random.Next(-14 * 60, 14 * 60 + 1))))
            .Append(new DateTimeOffset(2024, 12, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999))
            .Append(new DateTimeOffset(2024, 3, 1, 0, 0, 0, TimeSpan.FromHours(14)));

        foreach (var instant in instants)
        {
            var json = JsonSerializer.Serialize(instant, PaymentsJson.Options);
            var expected = instant.UtcDateTime.ToString(UtcTimestampConverter.Format, CultureInfo.InvariantCulture);
            Assert.Equal("\"" + expected + "\"", json);
            var read = JsonSerializer.Deserialize<DateTimeOffset>(json, PaymentsJson.Options);
            Assert.Equal(instant.UtcTicks - instant.UtcTicks % 10, read.UtcTicks);
        }
    }
}
