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
    public static async Task<int> RunAsync(IServiceProvider services, IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
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
                await Console.Error.WriteLineAsync(
                    "Usage: vault migrate | keys list | keys rotate | keys rewrap | keys revoke KEY_ID | requests list|approve ID|cancel ID | audit verify [--anchor FILE] | audit purge | " + KeyCommands.Usage);
                return 2;
        }
    }

    internal static void Write(TextWriter stdout, object value) =>
        stdout.WriteLine(JsonSerializer.Serialize(value, PaymentsJson.Options));
}
