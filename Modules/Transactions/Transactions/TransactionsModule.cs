using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;

namespace Payments.Transactions;

public static class TransactionsModule
{
    public static ModuleDefinition Definition { get; } =
        new("Transactions", "transactions", typeof(TransactionsModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
    }
}
