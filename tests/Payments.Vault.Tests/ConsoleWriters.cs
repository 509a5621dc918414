namespace Payments.Vault.Tests;

/// <summary>
/// Playwright sets <see cref="Console.OutputEncoding"/> as it starts its driver. The setter holds the console's lock
/// while it flushes <see cref="Console.Out"/>, and a host's console logger, writing meanwhile, holds that writer's lock
/// and can need the console's: the suite deadlocked so (CI, and 1 run in 3 here; dotnet-stack showed both threads).
/// Once Out and Error are set explicitly the setter flushes neither, and the cycle cannot form.
/// </summary>
internal static class ConsoleWriters
{
    private static readonly Lazy<bool> Settled = new(() =>
    {
        Console.SetOut(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
        Console.SetError(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true });
        return true;
    });

    public static void Settle() => _ = Settled.Value;
}
