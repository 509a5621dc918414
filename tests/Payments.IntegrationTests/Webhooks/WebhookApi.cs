using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Payments.BuildingBlocks.Ids;
using Payments.TestKit;

namespace Payments.IntegrationTests.Webhooks;

/// <summary>The merchant API calls these tests make, and the verification a merchant would write.</summary>
internal static class WebhookApi
{
    public static async Task<JsonElement> CreateEndpointAsync(this MerchantClient m, string url, params string[] events)
    {
        using var response = await m.Http.PostAsJsonAsync("/v1/webhook-endpoints",
            new { url, enabled_events = events.Length == 0 ? ["*"] : events });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<JsonElement> AuthorizeAsync(this MerchantClient m, long amount = 1000, bool capture = false)
    {
        using var response = await m.Http.PostAsJsonAsync("/v1/transactions", new
        {
            operation = capture ? "authcap" : "authorize",
            amount,
            currency = "USD",
            card_token = PrefixedId.New("tok"),
            order_id = "order-" + Guid.NewGuid().ToString("N")[..12],
        });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<JsonElement> PostOkAsync(this MerchantClient m, string path, object body, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await m.Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<JsonElement> GetJsonAsync(this MerchantClient m, string path)
    {
        using var response = await m.Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The documented verification, as a merchant writes it (docs/webhooks.md).</summary>
    public static bool Verify(string secret, string header, string rawBody, TimeSpan tolerance)
    {
        var parts = header.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(parts["t"] + "." + rawBody));
        var fresh = Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(parts["t"])) <= tolerance.TotalSeconds;
        return fresh && CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(parts["v1"]));
    }

    /// <summary>Polls until <paramref name="condition"/> holds (bounded), for state the API shows.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var value = await read();
            if (condition(value))
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what ?? "a condition"}; last: {value}");
            }
            await Task.Delay(50);
        }
    }
}
