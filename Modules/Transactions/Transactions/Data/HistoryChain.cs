using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>
/// The tamper-evident history: each entry's hash is SHA-256 (hex) over the previous hash and the entry's fields,
/// so changing, removing or reordering any entry breaks every later link (docs/adr/0032).
/// </summary>
internal static class HistoryChain
{
    public static readonly string Genesis = new('0', 64);

    /// <remarks>
    /// <paramref name="at"/> is taken before the row lock is: a settlement or expiry that waited behind a capture, or a
    /// clock stepped back, would date its entry before the one it follows. An entry is never dated before the previous
    /// one, so the history reads oldest first by time as well as by <c>seq</c> (the row's <c>updated_at</c> is kept the
    /// same way, with <c>GREATEST</c>).
    /// </remarks>
    public static HistoryEntry Next(string trxId, HistoryEntry? previous, string operation, long amount, string status, DateTimeOffset at)
    {
        var seq = (previous?.Seq ?? 0) + 1;
        var prev = previous?.Hash ?? Genesis;
        if (previous is not null && previous.At > at)
        {
            at = previous.At;
        }
        return new HistoryEntry(seq, operation, amount, status, at, prev, Hash(trxId, seq, operation, amount, status, at, prev));
    }

    public static string Hash(string trxId, int seq, string operation, long amount, string status, DateTimeOffset at, string prevHash)
    {
        var text = string.Join('|', prevHash, trxId, seq.ToString(CultureInfo.InvariantCulture), operation,
            amount.ToString(CultureInfo.InvariantCulture), status,
            at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The first entry whose link or hash does not hold, or null when the chain verifies.</summary>
    public static int? FirstBroken(string trxId, IReadOnlyList<HistoryEntry> entries)
    {
        var prev = Genesis;
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            if (e.Seq != i + 1 || e.PrevHash != prev ||
                e.Hash != Hash(trxId, e.Seq, e.Operation, e.Amount, e.Status, e.At, e.PrevHash))
            {
                return e.Seq;
            }
            prev = e.Hash;
        }
        return null;
    }

    /// <summary>The statement that stores <paramref name="entry"/>; its primary key (trx_id, seq) refuses a fork.</summary>
    public static NpgsqlBatchCommand InsertCommand(string trxId, HistoryEntry entry)
    {
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO transactions.history (trx_id, seq, operation, amount, status, at, prev_hash, hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """);
        foreach (var v in new object[] { trxId, entry.Seq, entry.Operation, entry.Amount, entry.Status, entry.At, entry.PrevHash, entry.Hash })
        {
            cmd.Parameters.Add(new() { Value = v });
        }
        return cmd;
    }

    /// <summary>Many entries, each of its own transaction, in one statement; the same primary key refuses a fork.</summary>
    public static NpgsqlBatchCommand InsertSetCommand(IReadOnlyList<(string TrxId, HistoryEntry Entry)> entries)
    {
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO transactions.history (trx_id, seq, operation, amount, status, at, prev_hash, hash)
            SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])
            """);
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.TrxId).ToArray() });
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.Entry.Seq).ToArray() });
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.Entry.Operation).ToArray() });
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.Entry.Amount).ToArray() });
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.Entry.Status).ToArray() });
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.Entry.At).ToArray() });
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.Entry.PrevHash).ToArray() });
        cmd.Parameters.Add(new() { Value = entries.Select(e => e.Entry.Hash).ToArray() });
        return cmd;
    }
}
