using System.Text;
using Npgsql;
using Payments.Vault.Crypto;

namespace Payments.Vault.Commands;

/// <summary>
/// The key custody verbs (docs/adr/0125..0130):
/// <code>
/// kek rotate [--component-file PATH]...   the ceremony: new components, one per custodian, each from its own file or a
///                                         prompt (no echo), never the command line; prints every check value
/// keys min-decryption KEY_ID              cards on keys created before KEY_ID no longer decrypt (rewrap first)
/// keys destroy KEY_ID                     remove a card key's material (refused while a card uses it); a second
///                                         operator approves (vault requests approve ID), which runs it
/// merchant forget MER_ID                  destroy the merchant's data keys, its cards unreadable at once; a second
///                                         operator approves, which runs it
/// </code>
/// </summary>
internal static class KeyCommands
{
    public const string Usage =
        "kek rotate [--component-file PATH]... | keys min-decryption KEY_ID | keys destroy KEY_ID | merchant forget MER_ID";

    /// <summary>Null when the verb is not one of these.</summary>
    public static async Task<int?> TryRunAsync(IServiceProvider services, IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var verb = string.Join(' ', args.Take(2));
        try
        {
            switch (verb)
            {
                case "kek rotate":
                    return await RotateKekAsync(services, args.Skip(2).ToList(), stdout, ct);
                case "keys min-decryption" when args.Count == 3 && Guid.TryParse(args[2], out var minKey):
                    var below = await services.GetRequiredService<KeyOperations>().SetMinimumDecryptionKeyAsync(minKey, ct);
                    VaultCommands.Write(stdout, new { min_decryption_key = minKey, cards_no_longer_decrypting = below });
                    return 0;
                case "keys destroy" when args.Count == 3 && Guid.TryParse(args[2], out var destroyKey):
                    // Two operators (ADR 131): this asks, `requests approve ID` by another runs KeyOperations.DestroyAsync.
                    // The key administration function checks again when it runs.
                    var onKey = (await services.GetRequiredService<KeyOperations>().ListAsync(ct)).FirstOrDefault(k => k.KeyId == destroyKey);
                    if (onKey is null || onKey.Cards > 0)
                    {
                        await Console.Error.WriteLineAsync(onKey is null ? "No such key." : $"Refused: {onKey.Cards} card(s) still use the key; rewrap first.");
                        return onKey is null ? 2 : 1;
                    }
                    return await RequestCommands.RequestAsync(services, "keys.destroy", destroyKey.ToString(),
                        new Dictionary<string, object?>(), stdout, ct);
                case "merchant forget" when args.Count == 3 && args[2].StartsWith("mer_", StringComparison.Ordinal):
                    // A mistyped id would otherwise become a request a second operator approves, destroying nothing.
                    await using (var known = services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
                        "SELECT EXISTS (SELECT 1 FROM vault.wrapped_keys WHERE scope = $1 AND purpose = 'merchant-dek' AND destroyed_at IS NULL)"))
                    {
                        known.Parameters.AddWithValue(args[2]);
                        if (await known.ExecuteScalarAsync(ct) is not true)
                        {
                            await Console.Error.WriteLineAsync("No data key of that merchant in this Vault: nothing to forget (is the id right?).");
                            return 2;
                        }
                    }
                    return await RequestCommands.RequestAsync(services, "merchant.forget", args[2], new Dictionary<string, object?>(), stdout, ct);
                default:
                    return null;
            }
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.ObjectInUse or PostgresErrorCodes.NoDataFound
                                              or PostgresErrorCodes.ObjectNotInPrerequisiteState or PostgresErrorCodes.InvalidParameterValue)
        {
            // The key administration function refused: its message says why (no key material in it).
            await Console.Error.WriteLineAsync("Refused: " + e.MessageText);
            return 1;
        }
    }

    private static async Task<int> RotateKekAsync(IServiceProvider services, List<string> options, TextWriter stdout, CancellationToken ct)
    {
        // Pairs of --component-file PATH (VaultCommands checked the shape); components never come on the command line.
        var components = new List<byte[]>();
        for (var i = 1; i < options.Count; i += 2)
        {
            components.Add(Kek.ReadComponentFile(options[i]));
        }
        if (components.Count == 0)
        {
            components = PromptForComponents();
        }
        var next = Kek.FromComponents(components);
        components.ForEach(c => Array.Clear(c));
        var rotated = await services.GetRequiredService<KekCustody>().RotateAsync(next, ct);
        VaultCommands.Write(stdout, new
        {
            kek_version = rotated.Version,
            kek_kcv = rotated.Kcv,
            component_kcvs = rotated.ComponentKcvs,
            retired_version = rotated.RetiredVersion,
            wrapped_keys_rewrapped = rotated.WrappedKeys,
            key_ring_rows_rewrapped = rotated.KeyRingRows,
            next_step = "Each custodian replaces their component file with the new component and confirms its check value; " +
                        "then restart every Vault (a Vault still on the retired KEK refuses to start and can add no key).",
        });
        return 0;
    }

    /// <summary>One component per custodian, typed without echo; an empty line ends the list.</summary>
    private static List<byte[]> PromptForComponents()
    {
        if (Console.IsInputRedirected)
        {
            throw new InvalidOperationException("No --component-file given and no terminal to prompt on.");
        }
        var components = new List<byte[]>();
        while (true)
        {
            Console.Error.Write($"Custodian {components.Count + 1}, type your component (base64; empty line when all are in): ");
            var text = ReadHidden();
            if (text.Length == 0)
            {
                return components;
            }
            var component = Kek.ParseComponent(text, "The component");
            components.Add(component);
            Console.Error.WriteLine($"  component {components.Count} check value: {KeyCheck.Of(component)}");
        }
    }

    private static string ReadHidden()
    {
        var text = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return text.ToString();
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                text.Length = Math.Max(0, text.Length - 1);
            }
            else if (!char.IsControl(key.KeyChar))
            {
                text.Append(key.KeyChar);
            }
        }
    }
}
