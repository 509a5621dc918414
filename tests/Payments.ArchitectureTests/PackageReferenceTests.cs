using System.Text.RegularExpressions;

namespace Payments.ArchitectureTests;

/// <summary>
/// A project names only the packages its own code uses: a module that references Wolverine or Dapper "just in case"
/// reads as if it used them, and the next reader goes looking for where (issue 17 found five such modules).
/// </summary>
public sealed partial class PackageReferenceTests
{
    /// <summary>Packages whose use shows as a namespace in the referencing project's own sources.</summary>
    private static readonly Dictionary<string, string> NamespaceOf = new(StringComparer.Ordinal)
    {
        ["WolverineFx"] = "Wolverine",
        ["Dapper"] = "Dapper",
        ["FastEndpoints"] = "FastEndpoints",
        ["Carter"] = "Carter",
        ["StackExchange.Redis"] = "StackExchange.Redis",
        ["Npgsql"] = "Npgsql",
        ["Scalar.AspNetCore"] = "Scalar.AspNetCore",
        ["HdrHistogram"] = "HdrHistogram",
        ["prometheus-net.AspNetCore"] = "Prometheus",
    };

    [Fact]
    public void Every_package_a_project_references_is_used_by_its_code()
    {
        var root = Assemblies.RepositoryRoot();
        var unused = new List<string>();
        foreach (var project in Directory.EnumerateFiles(root.FullName, "*.csproj", SearchOption.AllDirectories)
                     .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}artifacts{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            var dir = Path.GetDirectoryName(project)!;
            var sources = Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .Select(File.ReadAllText)
                .ToList();
            foreach (Match reference in PackageReference().Matches(File.ReadAllText(project)))
            {
                var package = reference.Groups[1].Value;
                if (NamespaceOf.TryGetValue(package, out var ns) && !sources.Any(s => s.Contains(ns, StringComparison.Ordinal)))
                {
                    unused.Add($"{Path.GetRelativePath(root.FullName, project)}: {package}");
                }
            }
        }
        Assert.True(unused.Count == 0, "Referenced but not used:\n" + string.Join("\n", unused));
    }

    [GeneratedRegex("<PackageReference\\s+Include=\"([^\"]+)\"")]
    private static partial Regex PackageReference();
}
