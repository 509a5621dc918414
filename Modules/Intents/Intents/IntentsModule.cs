using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;
using Payments.Intents.Contracts;
using Payments.Intents.Data;

namespace Payments.Intents;

public static class IntentsModule
{
    public static ModuleDefinition Definition { get; } =
        new("Intents", "intents", typeof(IntentsModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.AddSingleton<IntentStore>();
        services.AddSingleton<IPaymentIntentConfirmations>(sp => sp.GetRequiredService<IntentStore>());
    }
}
