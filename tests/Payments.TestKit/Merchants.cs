using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Commands;

namespace Payments.TestKit;

public sealed record MerchantCredentials(string MerchantId, string ClientId, string ClientSecret);

/// <summary>A merchant with a token: <see cref="Http"/> calls the Host with <c>Authorization: Bearer</c> set.</summary>
public sealed record MerchantClient(string MerchantId, string ClientId, string ClientSecret, string AccessToken, HttpClient Http);

/// <summary>Merchants for tests, made the way an operator makes them: the Host's <c>merchant create</c> verb.</summary>
public static class Merchants
{
    /// <summary>Runs <c>merchant create --name NAME</c> in-process and parses the one JSON object it prints.</summary>
    public static async Task<MerchantCredentials> CreateMerchantAsync(this GatewayFixture gateway, string? name = null)
    {
        var command = gateway.HostServices.GetServices<IHostCommand>().Single(c => c.Verb == "merchant");
        using var stdout = new StringWriter();
        var exit = await command.RunAsync(["create", "--name", name ?? "Test merchant " + Guid.NewGuid().ToString("N")[..8]],
            stdout, CancellationToken.None);
        if (exit != 0)
        {
            throw new InvalidOperationException($"merchant create exited with {exit}.");
        }
        using var json = JsonDocument.Parse(stdout.ToString());
        var root = json.RootElement;
        return new MerchantCredentials(
            root.GetProperty("merchant_id").GetString()!,
            root.GetProperty("client_id").GetString()!,
            root.GetProperty("client_secret").GetString()!);
    }

    /// <summary>Creates a merchant and gets its access token from <c>POST /v1/auth/token</c>.</summary>
    public static async Task<MerchantClient> CreateMerchantClientAsync(this GatewayFixture gateway, string? name = null)
    {
        var merchant = await gateway.CreateMerchantAsync(name);
        var token = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);
        var http = gateway.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new MerchantClient(merchant.MerchantId, merchant.ClientId, merchant.ClientSecret, token, http);
    }

    /// <summary>An access token for the client, from <c>POST /v1/auth/token</c> with a JSON body.</summary>
    public static async Task<string> GetAccessTokenAsync(this GatewayFixture gateway, string clientId, string clientSecret)
    {
        using var anonymous = gateway.CreateClient();
        using var response = await anonymous.PostAsJsonAsync("/v1/auth/token", new Dictionary<string, string>
        {
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
        });
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"POST /v1/auth/token answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("access_token").GetString()!;
    }
}
