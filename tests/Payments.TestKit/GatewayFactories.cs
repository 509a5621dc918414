using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Payments.TestKit;

/// <summary>The Vault, in this test process, on its own database; reached over its in-memory HTTP server.</summary>
public sealed class VaultFactory(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Payments.Vault.Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseContentRoot(Path.Combine(RepositoryPaths.Root, "Vault", "Vault"));
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
    Action<IServiceCollection>? configureServices = null) : WebApplicationFactory<Payments.Host.Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseContentRoot(Path.Combine(RepositoryPaths.Root, "Host"));
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureTestServices(services =>
        {
            services.AddHttpClient(Payments.Vault.Client.VaultClientSetup.HttpClientName)
                .ConfigurePrimaryHttpMessageHandler(() => vault.Server.CreateHandler());
            configureServices?.Invoke(services);
        });
    }
}
