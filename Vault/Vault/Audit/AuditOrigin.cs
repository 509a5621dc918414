namespace Payments.Vault.Audit;

/// <summary>Where an audited request came from, as the Vault itself knows it.</summary>
internal static class AuditOrigin
{
    /// <summary>Set only from a verified service token's <c>rid</c> claim, so it cannot be forged on the way.</summary>
    public const string HostRequestIdItem = "vault.host_request_id";

    public static string? HostRequestId(HttpContext context) => context.Items[HostRequestIdItem] as string;
}

/// <summary>
/// Operator verbs (<c>./run.sh vault keys rotate</c>, ...) in the audit trail, with the OS user who ran them. Called
/// once by the verb dispatcher before the verb runs, so a verb that fails half-way is still on record.
/// </summary>
internal static class OperatorAudit
{
    public static Task RecordAsync(IServiceProvider services, IReadOnlyList<string> args) =>
        services.GetRequiredService<AuditLog>().AppendAsync("operator.verb", null, null, new Dictionary<string, object?>
        {
            // The verb and its arguments: key ids and flags only, never secrets (no verb takes one on its command line).
            ["verb"] = string.Join(' ', args.Take(2)),
            ["args"] = args.Skip(2).Take(4).ToArray(),
            ["os_user"] = Environment.UserName,
            ["operator"] = services.GetService<Commands.IOperatorIdentity>()?.Operator,
            ["host"] = Environment.MachineName,
            ["pid"] = Environment.ProcessId,
        });
}
