using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Payments.TestKit;

namespace Payments.IntegrationTests.Transactions;

/// <summary>A gateway whose clock the tests move; the daily settlement is left to the tests that drive it.</summary>
public class TransactionsFixture : GatewayFixture
{
    public ShiftableClock Clock { get; } = new();

    protected override void ConfigureHost(Dictionary<string, string?> settings)
    {
        settings["Transactions:ScheduledSettlement"] = "false";
    }

    protected override void ConfigureHostServices(IServiceCollection services)
    {
        services.RemoveAll<TimeProvider>();
        services.AddSingleton<TimeProvider>(Clock);
    }
}
