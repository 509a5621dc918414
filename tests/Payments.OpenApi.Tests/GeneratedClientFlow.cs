using System.Text.Json;

namespace Payments.OpenApi.Tests;

/// <summary>What a generated client's flow (token, card, authorize, capture, refund, list, an error) must report.</summary>
internal static class GeneratedClientFlow
{
    public static void AssertCompleted(JsonElement r)
    {
        Assert.StartsWith("trx_", r.GetProperty("trx_id").GetString(), StringComparison.Ordinal);
        Assert.Equal(1200, r.GetProperty("captured").GetInt64());
        Assert.Equal("REFUND", r.GetProperty("refund_type").GetString());
        Assert.Equal(500, r.GetProperty("refunded").GetInt64());
        Assert.True(r.GetProperty("listed").GetBoolean());
        Assert.Equal(404, r.GetProperty("error_status").GetInt32());
        Assert.Equal("not_found", r.GetProperty("error_code").GetString());
    }
}
