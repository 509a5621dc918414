namespace Payments.Vault.Acquirer;

/// <summary>
/// Which acquirer the Vault sends card uses to (<c>Vault:Acquirer</c>). Only the sandbox exists: it is the default
/// in sandbox mode, and live mode requires it named (LiveModeChecks), so nobody runs it in live mode unknowingly.
/// Health and the start-up log name it.
/// </summary>
internal static class AcquirerChoice
{
    public const string Sandbox = "Sandbox";

    public static string Resolve(IConfiguration config) => config["Vault:Acquirer"] switch
    {
        null or "" => Sandbox,
        var name when name.Equals(Sandbox, StringComparison.OrdinalIgnoreCase) => Sandbox,
        var name => throw new InvalidOperationException($"Vault:Acquirer names an unknown acquirer '{name}': only {Sandbox} exists."),
    };
}
