using System.Diagnostics;

namespace Payments.TestKit;

internal static class ProcessRunner
{
    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>Runs a command to completion; as root, PostgreSQL's tools run as the <c>postgres</c> user.</summary>
    public static async Task<string> RunAsync(string file, IEnumerable<string> args, bool asPostgres = false, TimeSpan? timeout = null)
    {
        var psi = asPostgres && IsRoot
            ? new ProcessStartInfo("runuser") { ArgumentList = { "-u", "postgres", "--", file } }
            : new ProcessStartInfo(file);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', psi.ArgumentList)} exited {p.ExitCode}: {await stderr}{await stdout}");
        }
        return await stdout;
    }

    public static string FindBinary(string name, params string[] candidates)
    {
        foreach (var c in candidates)
        {
            if (File.Exists(c))
            {
                return c;
            }
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new InvalidOperationException($"{name} is not installed: run ./test.sh, which installs it.");
    }
}
