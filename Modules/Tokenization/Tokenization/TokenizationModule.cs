using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;
using Payments.Tokenization.Contracts;
using Payments.Tokenization.Data;

namespace Payments.Tokenization;

public static class TokenizationModule
{
    public static ModuleDefinition Definition { get; } =
        new("Tokenization", "tokenization", typeof(TokenizationModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.AddSingleton<IntentStore>();
        services.AddSingleton<ITokenizationEvents>(sp => sp.GetRequiredService<IntentStore>());
        services.AddSingleton<VaultFeedSync>();
        services.AddHostedService(sp => sp.GetRequiredService<VaultFeedSync>());
    }
}
