using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Commands;

namespace Payments.Security.Tests.Kit;

/// <summary>A merchant made by the operator verb, with a bearer token from <c>POST /v1/auth/token</c>.</summary>
internal sealed record SuiteMerchant(string MerchantId, string ClientId, string ClientSecret, string AccessToken);

/// <summary>A card tokenized through the Vault as a cardholder's browser would: the Host never sees the number.</summary>
internal sealed record SuiteCard(string Token, string TokenizationIntentId);

/// <summary>The merchant API as the contract (docs/API.md) describes it, nothing more: these suites test the surface.</summary>
internal static class Merchants
{
    public static async Task<SuiteMerchant> CreateAsync(SecurityGateway gateway, string name)
    {
        var command = gateway.HostServices.GetServices<IHostCommand>().FirstOrDefault(c => c.Verb == "merchant")
                      ?? throw new InvalidOperationException("The Host has no 'merchant' operator verb yet (auth module).");
        using var stdout = new StringWriter();
        var exit = await command.RunAsync(["create", "--name", name], stdout, CancellationToken.None);
        if (exit != 0)
        {
            throw new InvalidOperationException($"merchant create exited {exit}");
        }
        using var created = JsonDocument.Parse(stdout.ToString());
        var root = created.RootElement;
        var merchantId = root.GetProperty("merchant_id").GetString()!;
        var clientId = root.GetProperty("client_id").GetString()!;
        var secret = root.GetProperty("client_secret").GetString()!;
        var token = await IssueTokenAsync(gateway, clientId, secret);
        return new SuiteMerchant(merchantId, clientId, secret, token);
    }

    public static async Task<string> IssueTokenAsync(SecurityGateway gateway, string clientId, string clientSecret)
    {
        using var http = gateway.HostClient();
        var response = await http.PostAsJsonAsync("/v1/auth/token", new Dictionary<string, string>
        {
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
        });
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"POST /v1/auth/token answered {(int)response.StatusCode}: {body}");
        }
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>Tokenizes a card: a tokenization intent at the Host, the card posted to the Vault with the intent's client secret.</summary>
    public static async Task<SuiteCard> TokenizeAsync(SecurityGateway gateway, SuiteMerchant merchant, string number, string cvc)
    {
        using var host = gateway.HostClient(merchant.AccessToken);
        var intent = await Json.SendAsync(host, HttpMethod.Post, "/v1/tokenization-intents", new { });
        intent.ExpectStatus(201);
        var intentId = intent.String("id");
        var submitted = await SubmitCardAsync(gateway, intentId, intent.String("client_secret"), number, cvc);
        submitted.ExpectStatus(201);
        return new SuiteCard(submitted.String("card_token"), intentId);
    }

    public static async Task<JsonAnswer> SubmitCardAsync(SecurityGateway gateway, string intentId, string clientSecret, string number, string cvc)
    {
        using var vault = gateway.VaultClient();
        return await Json.SendAsync(vault, HttpMethod.Post, $"/v1/tokenization-intents/{intentId}/card", new Dictionary<string, object>
        {
            ["client_secret"] = clientSecret,
            ["number"] = number,
            ["exp_month"] = 12,
            ["exp_year"] = DateTime.UtcNow.Year + 3,
            ["cvc"] = cvc,
            ["holder_name"] = "Security Suite",
        });
    }
}

/// <summary>An answer read as JSON, with what the suites assert on.</summary>
internal sealed class JsonAnswer(HttpStatusCode status, string? mediaType, string body, HttpResponseMessage response)
{
    public int Status { get; } = (int)status;
    public string? MediaType { get; } = mediaType;
    public string Body { get; } = body;
    public HttpResponseMessage Response { get; } = response;

    public JsonElement Root
    {
        get
        {
            using var doc = JsonDocument.Parse(Body);
            return doc.RootElement.Clone();
        }
    }

    public string String(string property) =>
        Root.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new InvalidOperationException($"The answer has no string '{property}': {Status} {Body}");

    public long Long(string property) => Root.GetProperty(property).GetInt64();

    public string? ProblemCode =>
        MediaType == "application/problem+json" && Root.TryGetProperty("code", out var c) ? c.GetString() : null;

    public void ExpectStatus(int expected)
    {
        if (Status != expected)
        {
            throw new Xunit.Sdk.XunitException($"Expected {expected}, got {Status}: {Body}");
        }
    }
}

internal static class Json
{
    public static async Task<JsonAnswer> SendAsync(HttpClient http, HttpMethod method, string path, object? body = null,
        string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new JsonAnswer(response.StatusCode, response.Content.Headers.ContentType?.MediaType, text, response);
    }
}
