using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;

namespace Payments.Tokenization;

public static class TokenizationModule
{
    public static ModuleDefinition Definition { get; } =
        new("Tokenization", "tokenization", typeof(TokenizationModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
    }
}
