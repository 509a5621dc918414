using System.Globalization;
using System.Text.Json;
using Npgsql;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>A transaction after a change, with its history, and the exact answer bytes stored for its idempotency key.</summary>
internal sealed record Changed(TransactionSnapshot Transaction, byte[] Body);

/// <summary>
/// What every change adds to its own transaction besides the row: the history entry, the outbox event and the stored
/// answer of the request's idempotency key. Each slice builds its transaction from these.
/// </summary>
internal static class Changes
{
    public static byte[] Serialize(TransactionSnapshot snapshot) => JsonSerializer.SerializeToUtf8Bytes(snapshot, PaymentsJson.Options);

    public static string ETag(long version) => "\"" + version.ToString(CultureInfo.InvariantCulture) + "\"";

    /// <summary>Adds the statement storing the request's answer, which fails the batch's transaction if the claim was lost.</summary>
    public static void AddCompletion(NpgsqlBatch batch, IdempotencyClaim? claim, int status, byte[] body, long version, DateTimeOffset now)
    {
        if (claim is not null)
        {
            batch.BatchCommands.Add(claim.CompletionCommand(status, body, AnswerHeaders(version), now));
        }
    }

    /// <summary>The headers a change's stored answer replays.</summary>
    public static Dictionary<string, string> AnswerHeaders(long version) =>
        new() { ["Content-Type"] = "application/json", ["ETag"] = ETag(version) };

    /// <summary>
    /// Appends one history entry and one event per changed row, for the sweeps that change many rows in one statement
    /// (the rows are locked by the caller's statement).
    /// </summary>
    public static async Task AppendEachAsync(NpgsqlConnection conn, NpgsqlTransaction tx, List<(TransactionRow Row, long Amount)> rows,
        string operation, string eventType, DateTimeOffset now, CancellationToken ct)
    {
        var last = new Dictionary<string, HistoryEntry>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand($"""
            SELECT DISTINCT ON (trx_id) trx_id, {TransactionRows.HistoryColumns}
              FROM transactions.history WHERE trx_id = ANY($1) ORDER BY trx_id, seq DESC
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = rows.Select(r => r.Row.Snapshot.TrxId).ToArray() });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                last[r.GetString(0)] = TransactionRows.ReadHistory(r, 1);
            }
        }
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var (row, amount) in rows)
        {
            var s = row.Snapshot;
            var entry = HistoryChain.Next(s.TrxId, last.GetValueOrDefault(s.TrxId), operation, amount, s.Status, now);
            batch.BatchCommands.Add(HistoryChain.InsertCommand(s.TrxId, entry));
            batch.BatchCommands.Add(OutboxWriter.Command(eventType, row.MerchantId, now, s));
        }
        await batch.ExecuteNonQueryAsync(ct);
    }
}
