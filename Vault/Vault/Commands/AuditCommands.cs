using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Audit;

namespace Payments.Vault.Commands;

/// <summary>
/// <c>vault audit verify [--anchor FILE]</c> and <c>vault audit purge</c> (docs/adr/0121, 0124). Verify recomputes the
/// keyed chain and compares it with the latest anchor of the anchor file (or of FILE, e.g. a copy a QSA kept); exit 1
/// when anything broke. Rows after that anchor could have been cut undetected: <c>unanchored_rows</c> says how many.
/// </summary>
internal static class AuditCommands
{
    public static async Task<(int ExitCode, object Output)> VerifyAsync(IServiceProvider services, IReadOnlyList<string> args, CancellationToken ct)
    {
        var options = services.GetRequiredService<IOptions<AuditOptions>>().Value;
        var at = args.ToList().IndexOf("--anchor");
        var file = at >= 0 && at + 1 < args.Count ? args[at + 1] : options.AnchorPath();
        AuditAnchor? anchor;
        try
        {
            anchor = AuditAnchor.LatestIn(file);
        }
        catch (IOException)
        {
            anchor = null;
        }
        if (anchor is null && at >= 0)
        {
            return (2, new { valid = false, problem = "anchor_file_unreadable", anchor_file = file });
        }
        var result = await AuditVerifier.VerifyAsync(services.GetRequiredService<NpgsqlDataSource>(),
            services.GetRequiredService<IAuditKey>(), anchor, ct);
        return (result.Valid ? 0 : 1, new
        {
            result.Valid, result.Problem, result.Detail, result.FirstBrokenSeq, result.Rows, result.LegacyRows, result.KeyedRows,
            result.HeadSeq, result.PurgedThroughSeq, anchor_file = file, result.Anchor,
            unanchored_rows = result.UnanchoredRows ?? result.Rows,
            note = anchor is null
                ? "No anchor: edits and deletions inside the chain are found, but rows cut off its end are not."
                : "Rows after the anchor (unanchored_rows) could have been cut off the end without a trace.",
        });
    }

    public static async Task<object> PurgeAsync(IServiceProvider services, CancellationToken ct)
    {
        var (purged, through) = await services.GetRequiredService<AuditRetention>().PurgeAsync(ct);
        var anchor = await services.GetRequiredService<AuditAnchors>()
            .WriteAsync(services.GetRequiredService<IOptions<AuditOptions>>().Value.AnchorPath(), ct);
        return new { purged, through_seq = through, anchor };
    }
}
