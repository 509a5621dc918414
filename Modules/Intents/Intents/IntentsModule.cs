using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;

namespace Payments.Intents;

public static class IntentsModule
{
    public static ModuleDefinition Definition { get; } =
        new("Intents", "intents", typeof(IntentsModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
    }
}
