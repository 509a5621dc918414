using System.Reflection;

namespace Payments.ArchitectureTests;

internal static class Assemblies
{
    public static readonly string[] ModuleNames = ["Auth", "Tokenization", "Intents", "Transactions", "Refunds", "Webhooks"];

    public static Assembly Host => typeof(Payments.Host.Program).Assembly;
    public static Assembly Vault => typeof(Payments.Vault.Program).Assembly;
    public static Assembly VaultContracts => typeof(Payments.Vault.Contracts.IVaultClient).Assembly;
    public static Assembly VaultClient => typeof(Payments.Vault.Client.VaultClientSetup).Assembly;
    public static Assembly BuildingBlocks => typeof(Payments.BuildingBlocks.PaymentsJson).Assembly;

    public static Assembly Module(string name) => Assembly.Load($"Payments.{name}");

    public static Assembly Contracts(string name) => Assembly.Load($"Payments.{name}.Contracts");

    public static IEnumerable<Assembly> AllContracts =>
        ModuleNames.Select(Contracts).Append(VaultContracts);

    /// <summary>Everything that runs in the Host process.</summary>
    public static IEnumerable<Assembly> HostSide =>
        ModuleNames.Select(Module).Concat(AllContracts).Append(Host).Append(VaultClient).Append(BuildingBlocks);

    /// <summary>The checkout the tests were built from: the folder above the test binaries that holds the solution.</summary>
    public static DirectoryInfo RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Payments.Modular.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("Payments.Modular.sln not found above the test binaries.");
        }
        return root;
    }
}
