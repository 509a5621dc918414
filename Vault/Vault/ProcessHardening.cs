using System.Runtime.InteropServices;

namespace Payments.Vault;

/// <summary>
/// Makes the Vault's process non-dumpable before it reads any secret: no core file, no ptrace attach and no
/// /proc/PID/environ or /proc/PID/mem for other processes, even ones of the same OS user (a Host run as the same
/// user cannot read the KEK components out of the Vault). See docs/adr/0110-one-os-user-and-one-secrets-file-per-process.md.
/// </summary>
internal static partial class ProcessHardening
{
    private const int PrSetDumpable = 4;

    public static void MakeNonDumpable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        if (Prctl(PrSetDumpable, 0, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"prctl(PR_SET_DUMPABLE, 0) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [DllImport("libc", EntryPoint = "prctl", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
