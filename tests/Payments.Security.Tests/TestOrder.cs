using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: TestCollectionOrderer("Payments.Security.Tests.ByCollectionName", "Payments.Security.Tests")]

namespace Payments.Security.Tests;

/// <summary>
/// The suites share one gateway and run one after the other, by collection name, so the leak scan
/// (collection "9 …") reads everything the others left behind.
/// </summary>
public sealed class ByCollectionName : ITestCollectionOrderer
{
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(c => c.DisplayName, StringComparer.Ordinal);
}

internal static class Suites
{
    public const string Scanner = "0 leak scanner";
    public const string Hostile = "1 hostile input";
    public const string Access = "2 access";
    public const string LeakScan = "9 card-data leak scan";

    /// <summary>Iterations per operation: short in CI, <c>PAYMENTS_SECURITY_LONG=1</c> (or a number) for the long run.</summary>
    public static int Iterations(int shortRun, int longRun)
    {
        var value = Environment.GetEnvironmentVariable("PAYMENTS_SECURITY_LONG");
        if (string.IsNullOrEmpty(value) || value == "0")
        {
            return shortRun;
        }
        return int.TryParse(value, out var n) && n > 1 ? n : longRun;
    }
}
