using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Payments.TestKit;

namespace Payments.IntegrationTests.Refunds;

/// <summary>One gateway for every refunds test class; settlement runs only when a test asks (the sandbox route).</summary>
public sealed class RefundsFixture : GatewayFixture
{
    protected override void ConfigureHost(Dictionary<string, string?> settings) =>
        settings["Transactions:ScheduledSettlement"] = "false";

    /// <summary>Another Host on the same database, Redis and Vault, as a second instance would be. Dispose it.</summary>
    public HostFactory AnotherHost() =>
        this.CreateAnotherHost(new Dictionary<string, string?> { ["Transactions:ScheduledSettlement"] = "false" });

    /// <summary>A card token for <paramref name="merchant"/>, made as a merchant makes one (the card goes to the Vault only).</summary>
    public Task<string> TokenizeAsync(MerchantClient merchant, string number = "4242424242424242") =>
        this.TokenizeCardAsync(merchant, number);

    /// <summary>A payment of <paramref name="amount"/> USD: authcap by default, authorize when <paramref name="capture"/> is false.</summary>
    public async Task<JsonNode> PaymentAsync(MerchantClient merchant, long amount = 1000, bool capture = true, string? token = null,
        string number = "4242424242424242")
    {
        token ??= await TokenizeAsync(merchant, number);
        var (status, body, _) = await RefundApi.PostAsync(merchant.Http, "/v1/transactions", new Dictionary<string, object>
        {
            ["operation"] = capture ? "authcap" : "authorize",
            ["amount"] = amount,
            ["currency"] = "USD",
            ["card_token"] = token,
            ["order_id"] = "ord-" + Guid.NewGuid().ToString("N")[..12],
        });
        Assert.True(status == HttpStatusCode.Created, $"payment answered {(int)status}: {body}");
        return body!;
    }

    /// <summary>The first column of the first row as text (null when there is none).</summary>
    public async Task<string?> TextAsync(string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }
        return await cmd.ExecuteScalarAsync() is { } value and not DBNull
            ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)
            : null;
    }

    public async Task<long> ScalarAsync(string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }
}

[CollectionDefinition(Name)]
public sealed class RefundsCollection : ICollectionFixture<RefundsFixture>
{
    public const string Name = "Refunds";
}

/// <summary>The merchant API on the wire (snake_case JSON), as the refunds tests call it.</summary>
internal static class RefundApi
{
    // The wire calls are the transaction tests' own; these names keep the refunds tests' `using static` short.
    public static Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> SendAsync(
        HttpClient http, HttpMethod method, string path, object? body = null, string? idempotencyKey = null, string? ifMatch = null) =>
        Transactions.Api.SendAsync(http, method, path, body, idempotencyKey, ifMatch);

    public static Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> PostAsync(
        HttpClient http, string path, object? body, string? idempotencyKey = null, string? ifMatch = null) =>
        Transactions.Api.PostAsync(http, path, body, idempotencyKey, ifMatch);

    public static Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> RefundAsync(
        HttpClient http, string paymentTrxId, long? amount = null, string? reason = null, string? idempotencyKey = null,
        string? ifMatch = null)
    {
        var body = new Dictionary<string, object>();
        if (amount is not null)
        {
            body["amount"] = amount.Value;
        }
        if (reason is not null)
        {
            body["reason"] = reason;
        }
        return PostAsync(http, $"/v1/transactions/{paymentTrxId}/refunds", body, idempotencyKey, ifMatch);
    }

    public static async Task<JsonNode> GetAsync(HttpClient http, string path)
    {
        var (status, body, _) = await SendAsync(http, HttpMethod.Get, path);
        Assert.True(status == HttpStatusCode.OK, $"GET {path} answered {(int)status}: {body}");
        return body!;
    }

    public static string Code(JsonNode? problem) => problem?["code"]?.GetValue<string>() ?? "";

    public static string Str(JsonNode? node, string name) => node?[name]?.GetValue<string>() ?? "";

    public static long Long(JsonNode? node, string name) => node![name]!.GetValue<long>();
}
