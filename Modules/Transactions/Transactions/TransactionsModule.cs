using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Observability;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;
using Payments.Transactions.Features.Authorize;
using Payments.Transactions.Features.CaptureVoid;
using Payments.Transactions.Features.List;
using Payments.Transactions.Features.Lookup;
using Payments.Transactions.Features.Sandbox;
using Payments.Transactions.Ledger;
using Payments.Transactions.Lifecycle;

namespace Payments.Transactions;

public static class TransactionsModule
{
    public static ModuleDefinition Definition { get; } =
        new("Transactions", "transactions", typeof(TransactionsModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.AddOptions<TransactionsOptions>().Bind(config.GetSection(TransactionsOptions.Section))
            .Validate(o => o.OutboxHandlerTimeout > TimeSpan.Zero && o.OutboxHandlerTimeout <= TimeSpan.FromSeconds(25),
                "Transactions:OutboxHandlerTimeout must be more than zero and at most 25 seconds (half the relay's lease, less a margin).")
            .ValidateOnStart();
        services.AddHttpContextAccessor();
        // Each slice's SQL, with its own transaction; only row mapping, the history chain and the outbox are shared (Data/).
        services.AddSingleton<PendingCreations>();
        services.AddSingleton<PaymentWriter>();
        services.AddSingleton<AuthorizeData>();
        services.AddSingleton<IPaymentIntentPayments>(sp => sp.GetRequiredService<AuthorizeData>());
        services.AddSingleton<CaptureVoidData>();
        services.AddSingleton<CaptureWriter>();
        services.AddSingleton<LookupData>();
        services.AddSingleton<ListData>();
        services.AddSingleton<ChargebackData>();
        services.AddSingleton<ExpiryData>();
        services.AddSingleton<SettlementData>();
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<IRefundLedger, RefundLedger>();
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        services.AddSingleton<ITelemetrySampler, OutboxGauges>();
        services.AddSingleton<ITelemetrySampler, RefundReservationGauges>();
        services.AddSingleton<ListCountFolder>();
        services.AddHostedService(sp => sp.GetRequiredService<ListCountFolder>());
        services.AddSingleton<ExpirySweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<ExpirySweeper>());
        services.AddSingleton<ApprovalReconciler>();
        services.AddHostedService(sp => sp.GetRequiredService<ApprovalReconciler>());
        services.AddSingleton<SettlementScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<SettlementScheduler>());
    }
}
