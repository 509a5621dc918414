using Payments.IntegrationTests.Transactions;

namespace Payments.IntegrationTests.Foundation;

/// <summary>
/// A Host started on an empty database applies its migrations before any background work of the modules runs: the
/// sweeps, feeds, relay and samplers then never meet a missing table, and a fresh start logs no failure.
/// </summary>
public sealed class HostStartupTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Fact]
    public async Task A_host_on_an_empty_database_starts_its_background_work_after_the_migrations()
    {
        // The background services' first passes run within their first poll intervals (a second or two).
        await Task.Delay(TimeSpan.FromSeconds(3));

        var failures = gateway.Logs.Lines.Where(l => l.Contains("42P01", StringComparison.Ordinal)).ToList();
        Assert.True(failures.Count == 0, "background work ran before the migrations:\n" + string.Join("\n", failures));
    }
}
