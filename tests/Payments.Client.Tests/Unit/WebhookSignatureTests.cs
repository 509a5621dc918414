using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Payments.Client.Tests.Unit;

public sealed class WebhookSignatureTests
{
    private static readonly ManualClock Clock = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));

    private static string Sign(long t, string body, string secret) =>
        $"t={t.ToString(CultureInfo.InvariantCulture)},v1=" +
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{body}")));

    [Fact]
    public void A_signature_made_with_the_secret_verifies()
    {
        const string body = """{"id":"evt_1","type":"transaction.captured"}""";

        Assert.True(WebhookSignature.Verify(Sign(1_800_000_000, body, "whsec_a"), body, "whsec_a", clock: Clock));
    }

    [Fact]
    public void A_changed_body_a_wrong_secret_or_an_old_timestamp_fails()
    {
        const string body = """{"id":"evt_1"}""";

        Assert.False(WebhookSignature.Verify(Sign(1_800_000_000, body, "whsec_a"), body + " ", "whsec_a", clock: Clock));
        Assert.False(WebhookSignature.Verify(Sign(1_800_000_000, body, "whsec_b"), body, "whsec_a", clock: Clock));
        Assert.False(WebhookSignature.Verify(Sign(1_800_000_000 - 301, body, "whsec_a"), body, "whsec_a", clock: Clock));
        Assert.False(WebhookSignature.Verify("garbage", body, "whsec_a", clock: Clock));
    }
}
