using System.Globalization;

namespace Payments.Vault.Commands;

/// <summary>Who runs an operator verb, as the process knows it: never from an argument (ADR 131).</summary>
internal interface IOperatorIdentity
{
    /// <summary>The person: the two operators of a dual-control request must differ in this.</summary>
    string Operator { get; }

    /// <summary>The OS user the process runs as (the Vault's service user when run through run.sh as root).</summary>
    string OsUser { get; }
}

/// <summary>
/// The operator from the kernel's login uid (<c>/proc/self/loginuid</c>: set at login, kept through <c>sudo</c>,
/// <c>setpriv</c> and <c>env -i</c>, and not changeable by an unprivileged process); where it is unset (containers),
/// the user <c>sudo</c> was run by (<c>SUDO_USER</c>, which sudo sets itself); otherwise the user who ran
/// <c>./run.sh</c> (<c>PAYMENTS_INVOKING_USER</c>, which it sets: the verb itself runs as the Vault's service user, the
/// same for every operator); otherwise the OS user.
/// </summary>
internal sealed class OsOperatorIdentity : IOperatorIdentity
{
    private const string Unset = "4294967295";

    public string Operator { get; } = FromLoginUid() ?? FromSudo() ?? FromRunScript() ?? Environment.UserName;

    public string OsUser { get; } = Environment.UserName;

    private static string? FromLoginUid()
    {
        try
        {
            var uid = File.ReadAllText("/proc/self/loginuid").Trim();
            if (uid.Length == 0 || uid == Unset || !uint.TryParse(uid, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                return null;
            }
            // name:x:uid:... ; the uid alone when the name is not in /etc/passwd.
            var name = File.ReadLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == uid)?[0];
            return name is null ? "uid " + uid : name;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? FromSudo() =>
        Environment.GetEnvironmentVariable("SUDO_USER") is { Length: > 0 and <= 64 } user ? user : null;

    private static string? FromRunScript() =>
        Environment.GetEnvironmentVariable("PAYMENTS_INVOKING_USER") is { Length: > 0 and <= 64 } user ? user : null;
}
