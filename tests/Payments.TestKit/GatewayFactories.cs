using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Payments.TestKit;

/// <summary>The Vault, in this test process, on its own database; reached over its in-memory HTTP server.</summary>
public sealed class VaultFactory(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Payments.Vault.Program>
{
    /// <summary>The Vault's base URL: a real loopback port under Kestrel, <c>http://localhost/</c> in memory.</summary>
    public Uri BaseAddress => GatewayFactoryExtensions.BaseAddressOf(this, Services);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseContentRoot(Path.Combine(RepositoryPaths.Root, "Vault", "Vault"));
        // In memory (or on the factory's own Kestrel port) there is one server for every role; process tests bind
        // the real listeners (GatewayProcesses).
        builder.UseSetting("Listeners:Untagged", "Public,Internal,Management");
        foreach (var (key, value) in SuiteVaultLimits.VaultSettings)
        {
            builder.UseSetting(key, value);
        }
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
    }
}

/// <summary>
/// The Host, in this test process, wired to real PostgreSQL and Redis and to <paramref name="vault"/> through the
/// same typed client it uses in production (only the transport underneath is the in-memory server).
/// </summary>
public sealed class HostFactory(
    IReadOnlyDictionary<string, string?> settings,
    VaultFactory vault,
    Action<IServiceCollection>? configureServices = null,
    bool overVaultSocket = false) : WebApplicationFactory<Payments.Host.Program>
{
    public Uri BaseAddress => GatewayFactoryExtensions.BaseAddressOf(this, Services);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseContentRoot(Path.Combine(RepositoryPaths.Root, "Host"));
        builder.UseSetting("Listeners:Untagged", "Public,Internal,Management");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureTestServices(services =>
        {
            if (!overVaultSocket)
            {
                services.AddHttpClient(Payments.Vault.Client.VaultClientSetup.HttpClientName)
                    .ConfigurePrimaryHttpMessageHandler(() => vault.Server.CreateHandler());
            }
            configureServices?.Invoke(services);
        });
    }
}

internal static class GatewayFactoryExtensions
{
    public static Uri BaseAddressOf<T>(WebApplicationFactory<T> factory, IServiceProvider services)
        where T : class
    {
        var addresses = services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault();
        return first is null ? factory.ClientOptions.BaseAddress : new Uri(first.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
    }
}
