using System.Diagnostics;
using System.Globalization;

namespace Payments.Perf.Measure;

/// <summary>
/// Gives the load generator's threads a higher CPU priority than the gateway it measures (<c>--generator-nice N</c>).
/// On a machine whose cores the gateway saturates, a co-located generator waits for a core to read each answer, and
/// that wait lands in the measured latency: a refusal the Host wrote in 1 ms was read 20 ms later. A higher priority
/// stands in for the separate machine a load generator normally runs on. Linux keeps a nice value per thread and a
/// new thread inherits its creator's, so every thread alive now is set, and those created later follow. The real-time
/// class (SCHED_RR) was measured instead and did worse: the generator then preempts the gateway it measures
/// (perf/RESULTS.md, 2026-12-05, seventh).
/// </summary>
internal static class GeneratorPriority
{
    /// <summary>The overload phase's default (<c>--generator-nice 0</c> turns it off).</summary>
    public const int OverloadNice = -10;

    public static string? Raise(int nice, TextWriter log)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        // renice(1) on a thread id sets that thread only (setpriority with PRIO_PROCESS), which is what is wanted here.
        var tids = Directory.EnumerateDirectories("/proc/self/task").Select(Path.GetFileName).OfType<string>().ToList();
        var psi = new ProcessStartInfo("renice") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-n", nice.ToString(CultureInfo.InvariantCulture), "-p" }.Concat(tids))
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("renice did not start.");
        // renice writes one line to standard error for each thread it could not set.
        var refused = p.StandardError.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        p.WaitForExit();
        var note = refused == 0
            ? $"Load generator at nice {nice} (the gateway's processes at 0): it reads answers before the gateway's work takes the cores."
            : $"Load generator nice {nice} refused for {refused} of {tids.Count} threads (needs root or CAP_SYS_NICE): latency includes the generator's wait for a core.";
        log.WriteLine("  " + note);
        return note;
    }
}
