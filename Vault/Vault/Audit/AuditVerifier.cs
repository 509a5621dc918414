using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;

namespace Payments.Vault.Audit;

/// <summary>What a verification found. <c>Problem</c> names the first thing that broke and <c>FirstBrokenSeq</c> where.</summary>
internal sealed record AuditVerification(
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("rows")] long Rows,
    [property: JsonPropertyName("first_broken_seq")] long? FirstBrokenSeq,
    [property: JsonPropertyName("problem")] string? Problem = null,
    [property: JsonPropertyName("detail")] string? Detail = null)
{
    [JsonPropertyName("legacy_rows")] public long LegacyRows { get; init; }
    [JsonPropertyName("keyed_rows")] public long KeyedRows { get; init; }
    [JsonPropertyName("head_seq")] public long? HeadSeq { get; init; }
    [JsonPropertyName("purged_through_seq")] public long? PurgedThroughSeq { get; init; }
    [JsonPropertyName("anchor")] public AuditAnchor? Anchor { get; init; }
    /// <summary>Rows after the anchor: these could have been cut off the end without any sign.</summary>
    [JsonPropertyName("unanchored_rows")] public long? UnanchoredRows { get; init; }
}

/// <summary>Where a verification stopped (the last row checked, its link, the chain position): the next one carries on from it.</summary>
internal sealed record AuditCheckpoint(long Seq, byte[] Link, long N, bool Keyed);

/// <summary>
/// Recomputes the chain (docs/adr/0121): legacy rows by their SHA-256 hash, keyed rows by their MAC under the audit key,
/// positions without gaps, no legacy row after a keyed one, and the chain reaching the anchor with the anchor's head.
/// </summary>
internal static class AuditVerifier
{
    public static async Task<AuditVerification> VerifyAsync(NpgsqlDataSource db, IAuditKey key, AuditAnchor? anchor, CancellationToken ct) =>
        (await VerifyFromAsync(db, key, null, anchor, ct)).Result;

    /// <summary>
    /// Verifies the rows after <paramref name="from"/> (null: the whole chain, from the last retention purge), so a
    /// process can re-check its chain often for the cost of the rows added since.
    /// </summary>
    public static async Task<(AuditVerification Result, AuditCheckpoint Reached)> VerifyFromAsync(
        NpgsqlDataSource db, IAuditKey key, AuditCheckpoint? from, AuditAnchor? anchor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        // One snapshot for the whole check: rows committed meanwhile wait for the next one.
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        long? purgedThrough = null;
        var at = from ?? await StartAsync(conn, tx, ct);
        if (from is null && at.Seq > 0)
        {
            purgedThrough = at.Seq;
        }

        if (anchor is not null && !anchor.IsAuthenticSafe(key))
        {
            return (new AuditVerification(false, 0, null, "anchor_not_authentic",
                "The anchor's MAC does not verify under the audit key: it was not written by this Vault, or was altered.") { Anchor = anchor }, at);
        }
        await using (var max = new NpgsqlCommand("SELECT max(seq) FROM vault.audit_log", conn, tx))
        {
            if (from is not null && await max.ExecuteScalarAsync(ct) is long headSeq && headSeq < from.Seq)
            {
                return (new AuditVerification(false, 0, headSeq + 1, "tail_cut",
                    $"Rows up to seq {from.Seq} were verified earlier and are gone now.") { Anchor = anchor }, at);
            }
        }

        if (from is not null && anchor is not null && anchor.Seq <= from.Seq)
        {
            // Rows already verified are not walked again; the anchored one is checked still, so a chain rewritten
            // (or recomputed without the key) up to it shows at the next scheduled run, not only at the next full check.
            await using var anchored = new NpgsqlCommand("SELECT coalesce(mac, hash), coalesce(n, -1) FROM vault.audit_log WHERE seq = $1", conn, tx);
            anchored.Parameters.Add(new() { Value = anchor.Seq });
            await using var ar = await anchored.ExecuteReaderAsync(ct);
            var same = await ar.ReadAsync(ct) && Convert.ToBase64String((byte[])ar[0]) == anchor.HeadMac
                       && (ar.GetInt64(1) == anchor.Rows || ar.GetInt64(1) < 0); // a legacy row has no position of its own
            if (!same)
            {
                return (new AuditVerification(false, 0, anchor.Seq, "anchor_mismatch",
                    "The anchored row is gone or is not the row the anchor recorded: the chain was rewritten.") { Anchor = anchor }, at);
            }
        }

        await using var cmd = new NpgsqlCommand("""
            SELECT seq, at, action, merchant_id, subject, detail, prev_hash, hash, n, key_version, mac
            FROM vault.audit_log WHERE seq > $1 ORDER BY seq
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = at.Seq });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        long rows = 0, legacy = 0, keyed = 0, afterAnchor = 0;
        var anchorReached = anchor is null || anchor.Seq <= at.Seq;
        AuditVerification Broken(long seq, string problem, string detail) =>
            new(false, rows, seq, problem, detail) { LegacyRows = legacy, KeyedRows = keyed, Anchor = anchor, PurgedThroughSeq = purgedThrough };

        while (await r.ReadAsync(ct))
        {
            var seq = r.GetInt64(0);
            if (anchor is not null && !anchorReached && seq > anchor.Seq)
            {
                return (Broken(seq, "anchored_row_missing", $"The anchored row {anchor.Seq} is gone."), at);
            }
            var entry = new AuditEntry(new DateTimeOffset(r.GetDateTime(1), TimeSpan.Zero), r.GetString(2),
                r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetString(5));
            var storedPrev = r.IsDBNull(6) ? null : (byte[])r[6];
            rows++;
            if (r.IsDBNull(10))
            {
                if (at.Keyed)
                {
                    return (Broken(seq, "unkeyed_row_after_keyed", "An unkeyed (SHA-256) row follows keyed rows: the chain was recomputed without the key."), at);
                }
                var hash = (byte[])r[7];
                if (!hash.AsSpan().SequenceEqual(AuditChain.LegacyHash(storedPrev!, entry)))
                {
                    return (Broken(seq, "row_changed", "The row does not match its hash: it was edited."), at);
                }
                if (!storedPrev!.AsSpan().SequenceEqual(at.Link))
                {
                    return (Broken(seq, "rows_missing", "The row is intact but does not chain to the row before it: rows were deleted before it."), at);
                }
                legacy++;
                at = new AuditCheckpoint(seq, hash, at.N + 1, false);
            }
            else
            {
                var n = r.GetInt64(8);
                var version = r.GetInt32(9);
                var mac = (byte[])r[10];
                byte[] k;
                try
                {
                    k = key.Get(version);
                }
                catch (CryptographicException)
                {
                    return (Broken(seq, "unknown_key_version", $"Audit key version {version} is unknown."), at);
                }
                if (n != at.N + 1)
                {
                    return n > at.N + 1
                        ? (Broken(seq, "rows_missing", $"{n - at.N - 1} row(s) before this one are missing."), at)
                        : (Broken(seq, "row_changed", "The row's chain position is wrong: rows were edited or reordered."), at);
                }
                if (!mac.AsSpan().SequenceEqual(AuditChain.Mac(k, at.Link, seq, n, version, entry)))
                {
                    var intact = storedPrev is not null && mac.AsSpan().SequenceEqual(AuditChain.Mac(k, storedPrev, seq, n, version, entry));
                    return intact
                        ? (Broken(seq, "rows_missing", "The row is intact but does not chain to the row before it."), at)
                        : (Broken(seq, "row_changed", "The row does not match its MAC: it was edited, moved or recomputed without the key."), at);
                }
                keyed++;
                at = new AuditCheckpoint(seq, mac, n, true);
            }
            if (anchor is not null && seq == anchor.Seq)
            {
                anchorReached = true;
                if (Convert.ToBase64String(at.Link) != anchor.HeadMac || at.N != anchor.Rows)
                {
                    return (Broken(seq, "anchor_mismatch", "The chain at the anchored row is not the chain the anchor recorded: it was rewritten."), at);
                }
            }
            else if (anchor is not null && seq > anchor.Seq)
            {
                afterAnchor++;
            }
        }
        if (!anchorReached)
        {
            return (Broken(at.Seq + 1, "tail_cut", $"The chain ends at seq {at.Seq}, before the anchored row {anchor!.Seq}: rows were cut off the end."), at);
        }
        return (new AuditVerification(true, rows, null)
        {
            LegacyRows = legacy, KeyedRows = keyed, HeadSeq = at.Seq, Anchor = anchor, PurgedThroughSeq = purgedThrough,
            UnanchoredRows = anchor is null ? null : afterAnchor,
        }, at);
    }

    /// <summary>The chain's start: the genesis, or the point the last retention purge recorded (an <c>audit.purged</c> row, itself keyed).</summary>
    private static async Task<AuditCheckpoint> StartAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT detail FROM vault.audit_log WHERE action = 'audit.purged' ORDER BY seq DESC LIMIT 1", conn, tx);
        if (await cmd.ExecuteScalarAsync(ct) is not string detail)
        {
            return new AuditCheckpoint(0, AuditChain.Genesis, 0, false);
        }
        // Taken on trust here; the purge row's own MAC is checked when the walk reaches it, so a forged one fails there.
        using var json = JsonDocument.Parse(detail);
        var root = json.RootElement;
        return new AuditCheckpoint(root.GetProperty("through_seq").GetInt64(),
            Convert.FromBase64String(root.GetProperty("through_link").GetString()!), root.GetProperty("through_n").GetInt64(),
            root.GetProperty("through_keyed").GetBoolean());
    }
}
