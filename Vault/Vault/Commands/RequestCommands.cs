using System.Text.Json;
using Payments.BuildingBlocks;
using Payments.Vault.Crypto;

namespace Payments.Vault.Commands;

/// <summary>
/// The dual-control verbs (ADR 131): <c>requests list [--all]</c>, <c>requests approve ID</c>,
/// <c>requests cancel ID</c>, and <c>keys revoke KEY_ID</c>, which asks for a second operator while cards remain on the key.
/// </summary>
internal static class RequestCommands
{
    public static async Task<int> RunAsync(IServiceProvider services, IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var dual = services.GetRequiredService<DualControl>();
        var who = services.GetRequiredService<IOperatorIdentity>();
        switch (args.ToArray())
        {
            case ["requests", "list", .. var rest]:
                Write(stdout, await dual.ListAsync(rest.Contains("--all"), ct));
                return 0;
            case ["requests", "approve", var raw] when Guid.TryParse(raw, out var id):
                return Report(stdout, await dual.ApproveAsync(who, id, ct));
            case ["requests", "cancel", var raw] when Guid.TryParse(raw, out var id):
                return Report(stdout, await dual.CancelAsync(who, id, ct));
            // No flags (VaultCommands refuses them first): --force is gone; a key that still protects cards is revoked by a
            // second operator's 'vault requests approve ID'.
            case ["keys", "revoke", var raw] when Guid.TryParse(raw, out var keyId):
                return await RevokeAsync(services, keyId, stdout, ct);
            default:
                await Console.Error.WriteLineAsync("Usage: vault requests list [--all] | requests approve ID | requests cancel ID | keys revoke KEY_ID");
                return 2;
        }
    }

    private static async Task<int> RevokeAsync(IServiceProvider services, Guid keyId, TextWriter stdout, CancellationToken ct)
    {
        var keys = services.GetRequiredService<KeyOperations>();
        var list = await keys.ListAsync(ct);
        if (list.FirstOrDefault(k => k.KeyId == keyId) is not { } key)
        {
            await Console.Error.WriteLineAsync("No such key.");
            return 2;
        }
        if (key.Cards == 0)
        {
            // Nothing becomes unreadable: one operator suffices.
            var (revoked, remaining) = await keys.RevokeAsync(keyId, force: false, ct);
            Write(stdout, new { key_id = keyId, revoked, cards_on_key = remaining });
            return revoked ? 0 : 1;
        }
        return await RequestAsync(services, "keys.revoke", keyId.ToString(),
            new Dictionary<string, object?> { ["cards_on_key"] = key.Cards }, stdout, ct);
    }

    /// <summary>The first operator's half of a destructive verb: a pending request, printed with what comes next.</summary>
    public static async Task<int> RequestAsync(IServiceProvider services, string action, string subject,
        IReadOnlyDictionary<string, object?> detail, TextWriter stdout, CancellationToken ct)
    {
        var request = await services.GetRequiredService<DualControl>()
            .RequestAsync(services.GetRequiredService<IOperatorIdentity>(), action, subject, detail, ct);
        var shown = new Dictionary<string, object?>
        {
            ["pending"] = true, ["request_id"] = request.Id, ["action"] = request.Action, ["subject"] = request.Subject,
            ["requested_by"] = request.RequestedBy, ["expires_at"] = request.ExpiresAt,
            ["next"] = $"a second operator runs: vault requests approve {request.Id}",
        };
        foreach (var (k, v) in detail)
        {
            shown.TryAdd(k, v);
        }
        Write(stdout, shown);
        return 0;
    }

    private static int Report(TextWriter stdout, ApprovalResult result)
    {
        if (result.Status == ApprovalStatus.NotFound)
        {
            Console.Error.WriteLine("No such request.");
            return 2;
        }
        Write(stdout, new
        {
            status = result.Status.ToString().ToLowerInvariant(), request = result.Request, reason = result.Reason, result = result.Result,
        });
        return result.Status is ApprovalStatus.Executed or ApprovalStatus.Cancelled ? 0 : 1;
    }

    private static void Write(TextWriter stdout, object value) =>
        stdout.WriteLine(JsonSerializer.Serialize(value, PaymentsJson.Options));
}
