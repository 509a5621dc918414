using System.Diagnostics;
using System.Text;

namespace Payments.OpenApi.Tests;

/// <summary>The pinned npm tools of tools/openapi (installed with <c>npm ci</c> on first use) and a process runner.</summary>
internal static class Tools
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);
    private static bool installed;

    public static string Folder { get; } = Path.Combine(RepositoryPaths.Root, "tools", "openapi");

    public static string Bin(string name) => Path.Combine(Folder, "node_modules", ".bin", name);

    /// <summary>
    /// <c>npm ci</c> once per run when node_modules does not hold exactly what the lock file pins (npm writes its own copy
    /// of the lock into node_modules), so a clean clone installs and a warm one costs nothing.
    /// </summary>
    public static async Task EnsureInstalledAsync()
    {
        await InstallLock.WaitAsync();
        try
        {
            if (installed)
            {
                return;
            }
            var hidden = Path.Combine(Folder, "node_modules", ".package-lock.json");
            if (!File.Exists(hidden) || File.GetLastWriteTimeUtc(hidden) < File.GetLastWriteTimeUtc(Path.Combine(Folder, "package-lock.json")))
            {
                var result = await RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], Folder, TimeSpan.FromMinutes(10));
                Assert.True(result.ExitCode == 0, "npm ci failed in tools/openapi:\n" + result.Output);
            }
            installed = true;
        }
        finally
        {
            InstallLock.Release();
        }
    }

    public sealed record Result(int ExitCode, string Output);

    public static async Task<Result> RunAsync(string file, IEnumerable<string> args, string workingDirectory, TimeSpan? timeout = null,
        IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        // Redocly and others phone home unless told not to; CI has no business doing that.
        psi.Environment["REDOCLY_TELEMETRY"] = "off";
        psi.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        psi.Environment["SCARF_ANALYTICS"] = "false";
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("Cannot start " + file);
        var output = new StringBuilder();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(3));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)} did not finish in time.");
        }
        output.Append(await stdout).Append(await stderr);
        return new Result(p.ExitCode, output.ToString());
    }
}
