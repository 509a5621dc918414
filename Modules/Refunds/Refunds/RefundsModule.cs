using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;
using Payments.Refunds.Concurrency;
using Payments.Refunds.Data;

namespace Payments.Refunds;

public static class RefundsModule
{
    public static ModuleDefinition Definition { get; } =
        new("Refunds", "refunds", typeof(RefundsModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.AddSingleton<RefundRecords>();
        services.AddSingleton<PaymentQueue>();
    }
}
