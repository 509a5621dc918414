using NetArchTest.Rules;

namespace Payments.ArchitectureTests;

public sealed class ModuleIsolationTests
{
    public static TheoryData<string> Modules => new(Assemblies.ModuleNames);

    [Theory]
    [MemberData(nameof(Modules))]
    public void A_module_depends_on_no_other_modules_implementation(string module)
    {
        var others = Assemblies.ModuleNames.Where(m => m != module).Select(m => $"Payments.{m}").ToArray();

        // Assembly references, not namespaces: "Payments.Auth" is a prefix of "Payments.Auth.Contracts".
        var referenced = Assemblies.Module(module).GetReferencedAssemblies().Select(a => a.Name!).ToList();
        var offending = referenced.Where(r => others.Contains(r)).ToList();
        Assert.True(offending.Count == 0, $"{module} references {string.Join(", ", offending)}");
    }

    [Theory]
    [MemberData(nameof(Modules))]
    public void A_module_does_not_reference_the_host_or_the_vault(string module)
    {
        var referenced = Assemblies.Module(module).GetReferencedAssemblies().Select(a => a.Name).ToList();

        Assert.DoesNotContain("Payments.Host", referenced);
        Assert.DoesNotContain("Payments.Vault", referenced);
        Assert.DoesNotContain("Payments.Vault.Client", referenced);
    }

    [Fact]
    public void Contracts_reference_no_framework_or_package()
    {
        foreach (var contracts in Assemblies.AllContracts)
        {
            var referenced = contracts.GetReferencedAssemblies().Select(a => a.Name!).ToList();
            var offending = referenced
                .Where(r => !(r.StartsWith("System", StringComparison.Ordinal) || r == "netstandard" || r == "mscorlib" ||
                              (r.StartsWith("Payments.", StringComparison.Ordinal) && r.EndsWith(".Contracts", StringComparison.Ordinal))))
                .ToList();
            Assert.True(offending.Count == 0, $"{contracts.GetName().Name} references {string.Join(", ", offending)}");
        }
    }

    [Fact]
    public void The_host_does_not_reference_the_vaults_implementation()
    {
        foreach (var assembly in Assemblies.HostSide)
        {
            var referenced = assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
            Assert.DoesNotContain("Payments.Vault", referenced);
        }
    }

    [Fact]
    public void Nothing_but_the_vault_uses_data_protection()
    {
        foreach (var assembly in Assemblies.HostSide)
        {
            var result = Types.InAssembly(assembly)
                .Should().NotHaveDependencyOn("Microsoft.AspNetCore.DataProtection")
                .GetResult();
            Assert.True(result.IsSuccessful, $"{assembly.GetName().Name}: {Describe(result)}");
        }
    }

    internal static string Describe(TestResult result) =>
        result.IsSuccessful ? "" : "Offending types: " + string.Join(", ", result.FailingTypeNames ?? []);
}
