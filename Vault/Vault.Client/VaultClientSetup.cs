using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.Vault.Contracts;

namespace Payments.Vault.Client;

public static class VaultClientSetup
{
    /// <summary>The name of the <c>HttpClient</c> that carries the Host's calls to the Vault.</summary>
    public const string HttpClientName = "vault";

    /// <summary>
    /// Registers <c>IVaultClient</c> (and <c>IVaultTokenizationFeed</c>): HTTP to <c>Vault:BaseUrl</c>, each call signed
    /// with <c>Vault:ServiceKey</c>, bounded by <c>Vault:TimeoutSeconds</c> (default 5).
    /// </summary>
    public static IServiceCollection AddVaultClient(this IServiceCollection services, IConfiguration config)
    {
        services.AddHttpClient(HttpClientName, c =>
        {
            if (config["Vault:BaseUrl"] is { Length: > 0 } baseUrl)
            {
                c.BaseAddress = new Uri(baseUrl.EndsWith('/') ? baseUrl : baseUrl + "/");
            }
            c.Timeout = TimeSpan.FromSeconds(config.GetValue("Vault:TimeoutSeconds", 5.0));
        });
        services.AddSingleton(sp => new ServiceTokenSigner(
            config["Vault:ServiceKey"] is { Length: > 0 } key ? key : throw new InvalidOperationException("Vault:ServiceKey is not set."),
            sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddHttpContextAccessor(); // the Host's request id goes into each signed call
        services.AddSingleton<VaultClient>();
        services.AddSingleton<IVaultClient>(sp => sp.GetRequiredService<VaultClient>());
        services.AddSingleton<IVaultTokenizationFeed>(sp => sp.GetRequiredService<VaultClient>());
        services.AddSingleton<IVaultApprovals>(sp => sp.GetRequiredService<VaultClient>());
        return services;
    }
}
