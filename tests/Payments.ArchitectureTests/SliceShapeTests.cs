using NetArchTest.Rules;

namespace Payments.ArchitectureTests;

/// <summary>
/// The Transactions module's slices each own their SQL and their transaction (Features/…, Ledger, Lifecycle); what
/// they share (Data) is row mapping, the history chain, the outbox and the stored answer, with no HTTP concern in it.
/// </summary>
public sealed class SliceShapeTests
{
    [Fact]
    public void The_transactions_modules_shared_data_knows_nothing_of_http()
    {
        var result = Types.InAssembly(Assemblies.Module("Transactions"))
            .That().ResideInNamespace("Payments.Transactions.Data")
            .Should().NotHaveDependencyOnAny("Microsoft.AspNetCore.Http", "FastEndpoints", "Payments.BuildingBlocks.Http")
            .GetResult();

        Assert.True(result.IsSuccessful, ModuleIsolationTests.Describe(result));
    }
}
