using System.Text.Json;
using Payments.BuildingBlocks;
using Payments.Vault.Audit;
using Payments.Vault.Crypto;

namespace Payments.Vault.Commands;

/// <summary>
/// Operator verbs, run as <c>./run.sh vault VERB</c>: the Vault binary checks its schema, runs the verb and exits.
/// Output is JSON on stdout; logs go to stderr.
/// <code>
/// migrate                        the one-shot step: migrations and grants as the owner role, then exit (ADR 111)
/// keys list                      every key with its dates, status and how many cards it encrypts
/// keys rotate                    make a new key, the default from now on
/// keys rewrap                    re-encrypt every card still on an older key under the current key
/// keys revoke KEY_ID            revoke a key; while cards remain on it, a pending request a second operator approves
/// requests list [--all]          pending dual-control requests (--all: the latest 200, whatever their state)
/// requests approve ID            approve another operator's request within its window, which runs it (ADR 131)
/// requests cancel ID             cancel a pending request
/// audit verify [--anchor FILE]    recompute the keyed audit chain and check it against the latest anchor (of the
///                                anchor file, or of FILE); exit code 1 when broken (docs/adr/0121)
/// audit purge                    delete audit rows older than Vault:Audit:Retention (never younger than 12 months)
/// kek rotate, keys min-decryption, keys destroy, merchant forget: see <see cref="KeyCommands"/>
/// </code>
/// </summary>
internal static class VaultCommands
{
    public const string Usage =
        "Usage: vault migrate | keys list | keys rotate | keys rewrap | keys revoke KEY_ID | requests list [--all] | requests approve ID | " +
        "requests cancel ID | audit verify [--anchor FILE] | audit purge | " + KeyCommands.Usage;

    public static async Task<int> RunAsync(IServiceProvider services, IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        // Exactly the shapes below, before anything runs: `keys rotate --x` rotated, `audit purge --dry-run` purged, and
        // `audit verify --ancor MYCOPY` passed against the Vault's own anchor file instead of the auditor's copy.
        if (!IsKnownShape(args))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        try
        {
            return await RunVerbAsync(services, args, stdout, ct);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            // An operator's mistake (an unreadable component file, no terminal to prompt on): its message, not a stack trace.
            await Console.Error.WriteLineAsync("Refused: " + e.Message);
            return 1;
        }
    }

    private static bool IsKnownShape(IReadOnlyList<string> args)
    {
        static bool Value(string s) => s.Length > 0 && !s.StartsWith('-');
        return args.ToArray() switch
        {
            ["migrate"] or ["keys", "list" or "rotate" or "rewrap"] or ["audit", "purge"] => true,
            ["keys", "revoke" or "min-decryption" or "destroy", var id] => Value(id),
            ["requests", "list"] or ["requests", "list", "--all"] => true,
            ["requests", "approve" or "cancel", var id] => Value(id),
            ["audit", "verify"] => true,
            ["audit", "verify", "--anchor", var file] => Value(file),
            ["merchant", "forget", var merchant] => Value(merchant),
            ["kek", "rotate", .. var options] => options.Length % 2 == 0
                && options.Chunk(2).All(pair => pair[0] == "--component-file" && Value(pair[1])),
            _ => false,
        };
    }

    private static async Task<int> RunVerbAsync(IServiceProvider services, IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        if (args is ["migrate"])
        {
            await VaultStartup.MigrateAsync(services, ct);
            Write(stdout, new { migrated = true });
            return 0;
        }
        await VaultStartup.PrepareAsync(services, ct);
        await OperatorAudit.RecordAsync(services, args); // before the verb: on record even if it fails half-way
        var keys = services.GetRequiredService<KeyOperations>();
        var verb = string.Join(' ', args.Take(2));
        switch (verb)
        {
            case "keys list":
                Write(stdout, await keys.ListAsync(ct));
                return 0;
            case "keys rotate":
                Write(stdout, new { key_id = keys.Rotate() });
                return 0;
            case "keys rewrap":
                var rewrap = await keys.RewrapAsync(500, ct);
                Write(stdout, new
                {
                    rewrapped = rewrap.Rewrapped, unreadable = rewrap.Unreadable, unreadable_tokens = rewrap.UnreadableTokens,
                    keys = await keys.ListAsync(ct),
                });
                return rewrap.Unreadable == 0 ? 0 : 1;
            case "keys revoke":
            case "requests list":
            case "requests approve":
            case "requests cancel":
                return await RequestCommands.RunAsync(services, args, stdout, ct);
            case "audit verify":
                var (exit, verified) = await AuditCommands.VerifyAsync(services, args, ct);
                Write(stdout, verified);
                return exit;
            case "audit purge":
                Write(stdout, await AuditCommands.PurgeAsync(services, ct));
                return 0;
            default:
                if (await KeyCommands.TryRunAsync(services, args, stdout, ct) is { } code)
                {
                    return code;
                }
                await Console.Error.WriteLineAsync(Usage);
                return 2;
        }
    }

    internal static void Write(TextWriter stdout, object value) =>
        stdout.WriteLine(JsonSerializer.Serialize(value, PaymentsJson.Options));
}
