using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;

namespace Payments.TestKit;

/// <summary>More Host processes on the same database, Redis and Vault as a fixture's, as a second instance would be.</summary>
public static class SecondHost
{
    /// <summary>
    /// A new Host (its own process state: caches, relays, background services) on the fixture's database and Redis.
    /// Dispose it at the end of the test.
    /// </summary>
    /// <param name="overVaultSocket">True to reach the Vault over a real socket at <c>Vault:BaseUrl</c> (which
    /// <paramref name="extraSettings"/> may point elsewhere) instead of in memory.</param>
    public static HostFactory CreateAnotherHost(this GatewayFixture gateway, IReadOnlyDictionary<string, string?>? extraSettings = null,
        Action<IServiceCollection>? configureServices = null, bool overVaultSocket = false)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Payments"] = gateway.HostConnectionString,
            ["ConnectionStrings:Redis"] = gateway.Redis.ConnectionString,
            ["Vault:BaseUrl"] = gateway.Vault.BaseAddress.ToString(),
            ["Vault:ServiceKey"] = gateway.ServiceKey,
            ["Gateway:Mode"] = "Sandbox",
        };
        foreach (var (k, v) in SuiteLimits.HostSettings)
        {
            settings[k] = v;
        }
        foreach (var (k, v) in extraSettings ?? new Dictionary<string, string?>())
        {
            settings[k] = v;
        }
        var host = new HostFactory(settings, gateway.Vault, configureServices, overVaultSocket);
        _ = host.Server;
        return host;
    }

    /// <summary>A client of <paramref name="host"/> carrying the merchant's bearer token.</summary>
    public static HttpClient CreateClientFor(this HostFactory host, MerchantClient merchant, bool expectRefusals = false)
    {
        var http = expectRefusals ? host.CreateClient() : host.CreateDefaultClient(host.ClientOptions.BaseAddress, new UnexpectedRefusalGuard());
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", merchant.AccessToken);
        return http;
    }
}
