using System.Globalization;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Payments.Vault.Audit;

/// <summary>
/// Deletes audit rows older than <see cref="AuditOptions.Retention"/> (docs/adr/0124): first an <c>audit.purged</c>
/// row (keyed) records the last row to go, its link and position so verification carries on from it, then
/// <c>vault.purge_audit_log</c> (owner's rights, refuses rows younger than 12 months) deletes up to that row, in
/// one transaction. An anchor follows at once.
/// </summary>
internal sealed class AuditRetention(NpgsqlDataSource db, AuditLog audit, TimeProvider clock, IOptions<AuditOptions> options)
{
    public async Task<(long Purged, long? ThroughSeq)> PurgeAsync(CancellationToken ct)
    {
        var before = clock.GetUtcNow() - options.Value.Retention;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        long seq;
        byte[] link;
        long n;
        bool keyed;
        await using (var last = new NpgsqlCommand("""
            SELECT seq, coalesce(mac, hash), n, mac IS NOT NULL FROM vault.audit_log
            WHERE at < $1 ORDER BY seq DESC LIMIT 1
            """, conn, tx))
        {
            last.Parameters.Add(new() { Value = before });
            await using var r = await last.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                return (0, null);
            }
            (seq, link, keyed) = (r.GetInt64(0), (byte[])r[1], r.GetBoolean(3));
            n = r.IsDBNull(2) ? -1 : r.GetInt64(2);
        }
        if (n < 0)
        {
            await using var count = new NpgsqlCommand("SELECT count(*) FROM vault.audit_log WHERE seq <= $1", conn, tx);
            count.Parameters.Add(new() { Value = seq });
            n = (long)(await count.ExecuteScalarAsync(ct))!;
        }
        await audit.AppendAsync(conn, tx, "audit.purged", null, null, new Dictionary<string, object?>
        {
            ["through_seq"] = seq, ["through_link"] = Convert.ToBase64String(link), ["through_n"] = n,
            ["through_keyed"] = keyed, ["before"] = before.ToString("O", CultureInfo.InvariantCulture),
        }, ct);
        await using var purge = new NpgsqlCommand("SELECT vault.purge_audit_log($1)", conn, tx);
        purge.Parameters.Add(new() { Value = seq });
        var purged = (long)(await purge.ExecuteScalarAsync(ct))!;
        await tx.CommitAsync(ct);
        return (purged, seq);
    }
}
