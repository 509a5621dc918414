using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Observability;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;
using Payments.Transactions.Ledger;
using Payments.Transactions.Lifecycle;

namespace Payments.Transactions;

public static class TransactionsModule
{
    public static ModuleDefinition Definition { get; } =
        new("Transactions", "transactions", typeof(TransactionsModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.Configure<TransactionsOptions>(config.GetSection(TransactionsOptions.Section));
        services.AddHttpContextAccessor();
        services.AddSingleton<TransactionStore>();
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<IRefundLedger, RefundLedger>();
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        services.AddSingleton<ITelemetrySampler, OutboxGauges>();
        services.AddSingleton<ITelemetrySampler, RefundReservationGauges>();
        services.AddSingleton<ExpirySweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<ExpirySweeper>());
        services.AddSingleton<ApprovalReconciler>();
        services.AddHostedService(sp => sp.GetRequiredService<ApprovalReconciler>());
        services.AddSingleton<SettlementScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<SettlementScheduler>());
    }
}
