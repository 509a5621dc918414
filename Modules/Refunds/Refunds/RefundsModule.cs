using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;
using Payments.Refunds.Acquiring;
using Payments.Refunds.Concurrency;
using Payments.Refunds.Data;
using Payments.Refunds.Recovery;

namespace Payments.Refunds;

public static class RefundsModule
{
    public static ModuleDefinition Definition { get; } =
        new("Refunds", "refunds", typeof(RefundsModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.Configure<RefundsOptions>(config.GetSection(RefundsOptions.Section));
        services.AddSingleton<RefundRecords>();
        services.AddSingleton<PaymentQueue>();
        services.AddSingleton<RefundCompletion>();
        services.AddSingleton<PendingRefundRecovery>();
        services.AddHostedService(sp => sp.GetRequiredService<PendingRefundRecovery>());
    }
}
