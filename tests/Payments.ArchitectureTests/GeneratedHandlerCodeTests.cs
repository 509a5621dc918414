using System.Diagnostics;

namespace Payments.ArchitectureTests;

/// <summary>
/// The Host loads Wolverine's handler code as committed (no compiler at run time). A handler added for a message type
/// that already has generated code would otherwise never run, silently: the committed code must be what `codegen write`
/// produces from today's handlers.
/// </summary>
public sealed class GeneratedHandlerCodeTests
{
    [Fact]
    public async Task The_committed_handler_code_is_what_the_handlers_generate()
    {
        var root = Assemblies.RepositoryRoot();
        var work = Directory.CreateTempSubdirectory("codegen-");
        try
        {
            var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Payments.Host.dll"), "codegen", "write"])
            {
                WorkingDirectory = work.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            // Code generation builds the container only: nothing is connected to.
            psi.Environment["ConnectionStrings__Payments"] = "Host=none";
            psi.Environment["ConnectionStrings__Redis"] = "none";
            using var process = Process.Start(psi)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(process.ExitCode == 0, $"codegen write failed: {await output}{await errors}");

            static Dictionary<string, string> Files(string dir) => Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(dir, f), f => File.ReadAllText(f).ReplaceLineEndings());
            var fresh = Files(Path.Combine(work.FullName, "Internal", "Generated"));
            var committed = Files(Path.Combine(root.FullName, "Host", "Internal", "Generated"));

            Assert.Equal(fresh.Keys.Order(), committed.Keys.Order());
            foreach (var (file, text) in fresh)
            {
                Assert.True(text == committed[file], $"Host/Internal/Generated/{file} is stale: regenerate it (ARCHITECTURE.md, Messages between modules).");
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
