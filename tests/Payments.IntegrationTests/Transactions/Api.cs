using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Payments.TestKit;

namespace Payments.IntegrationTests.Transactions;

/// <summary>Calls of the merchant API the transaction tests share, on the wire format (snake_case JSON).</summary>
internal static class Api
{
    public static async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> SendAsync(
        HttpClient http, HttpMethod method, string path, object? body = null, string? idempotencyKey = null, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response);
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> PostAsync(
        HttpClient http, string path, object? body, string? idempotencyKey = null, string? ifMatch = null) =>
        SendAsync(http, HttpMethod.Post, path, body ?? new { }, idempotencyKey, ifMatch);

    public static Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> GetAsync(HttpClient http, string path) =>
        SendAsync(http, HttpMethod.Get, path);

    /// <summary>Authorizes (or authcaps) inline and returns the 201 body.</summary>
    public static async Task<JsonNode> AuthorizeAsync(MerchantClient merchant, string token, long amount = 1000, string currency = "USD",
        string? orderId = null, string? externalId = null, string operation = "authorize")
    {
        var (status, body, _) = await PostAsync(merchant.Http, "/v1/transactions", new Dictionary<string, object?>
        {
            ["operation"] = operation,
            ["amount"] = amount,
            ["currency"] = currency,
            ["card_token"] = token,
            ["order_id"] = orderId ?? "ord-" + Guid.NewGuid().ToString("N")[..10],
            ["external_id"] = externalId,
        }.Where(p => p.Value is not null).ToDictionary());
        Assert.True(status == HttpStatusCode.Created, $"authorize answered {(int)status}: {body}");
        return body!;
    }

    public static async Task<JsonNode> CaptureOrVoidAsync(MerchantClient merchant, string trxId, string operation, long? amount = null)
    {
        var (status, body, _) = await PostAsync(merchant.Http, $"/v1/transactions/{trxId}",
            amount is null ? new { operation } : new { operation, amount });
        Assert.True(status == HttpStatusCode.OK, $"{operation} answered {(int)status}: {body}");
        return body!;
    }

    public static string Code(JsonNode? problem) => problem?["code"]?.GetValue<string>() ?? "";

    public static string Str(JsonNode? node, string name) => node?[name]?.GetValue<string>() ?? "";

    public static long Long(JsonNode? node, string name) => node![name]!.GetValue<long>();

    /// <summary>Polls until <paramref name="condition"/> holds or the bound passes; returns whether it held.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }
            await Task.Delay(20);
        }
        return await condition();
    }

    /// <summary>How the Host stores an Idempotency-Key: its SHA-256, hex, never the key itself.</summary>
    public static string StoredKey(string key) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static async Task<long> ScalarAsync(GatewayFixture gateway, string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(gateway.HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task ExecAsync(GatewayFixture gateway, string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(gateway.HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }
        await cmd.ExecuteNonQueryAsync();
    }
}
