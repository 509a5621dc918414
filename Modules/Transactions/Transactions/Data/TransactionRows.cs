using Npgsql;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>The one column list every read uses, its mapping, and the reads of one transaction by its key.</summary>
internal static class TransactionRows
{
    /// <summary>The statuses of a payment with an amount still to capture or void.</summary>
    public static readonly string[] OpenStatuses =
        [TransactionStatuses.Authorized, TransactionStatuses.PartialCaptured, TransactionStatuses.PartialSettled];

    public const string Columns = """
        t.trx_id, t.type, t.status, t.order_amount, t.currency, t.captured_amount, t.voided_amount, t.settled_amount,
        t.refunded_amount, t.charged_back_amount, t.order_id, t.external_id, t.payment_intent_id, t.parent_trx_id,
        t.card_brand, t.card_last4, t.authorization_code, t.decline_code, t.over_recovered, t.created_at, t.updated_at,
        t.version, t.merchant_id, t.card_token
        """;

    public const int ColumnCount = 24;

    public static TransactionRow Read(NpgsqlDataReader r, int o = 0)
    {
        string? S(int i) => r.IsDBNull(o + i) ? null : r.GetString(o + i);
        var brand = S(14);
        var last4 = S(15);
        var snapshot = new TransactionSnapshot(
            r.GetString(o + 0), r.GetString(o + 1), r.GetString(o + 2), r.GetInt64(o + 3), r.GetString(o + 4),
            r.GetInt64(o + 5), r.GetInt64(o + 6), r.GetInt64(o + 7), r.GetInt64(o + 8), r.GetInt64(o + 9),
            r.GetString(o + 10), S(11), S(12), S(13),
            brand is null && last4 is null ? null : new CardSummary(brand, last4),
            S(16), S(17), r.GetBoolean(o + 18),
            r.GetFieldValue<DateTimeOffset>(o + 19), r.GetFieldValue<DateTimeOffset>(o + 20))
        {
            Version = r.GetInt64(o + 21),
        };
        return new TransactionRow(snapshot, r.GetString(o + 22), S(23));
    }

    /// <summary>A history entry read from <see cref="HistoryColumns"/> starting at column <paramref name="o"/>.</summary>
    public static HistoryEntry ReadHistory(NpgsqlDataReader r, int o = 0) =>
        new(r.GetInt32(o), r.GetString(o + 1), r.GetInt64(o + 2), r.GetString(o + 3), r.GetFieldValue<DateTimeOffset>(o + 4),
            r.GetString(o + 5), r.GetString(o + 6));

    public const string HistoryColumns = "seq, operation, amount, status, at, prev_hash, hash";

    public static async Task<TransactionRow?> ReadAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string merchantId,
        string trxId, CancellationToken ct, bool forUpdate = false)
    {
        await using var cmd = new NpgsqlCommand(
            $"SELECT {Columns} FROM transactions.transactions t WHERE t.trx_id = $1 AND t.merchant_id = $2" +
            (forUpdate ? " FOR UPDATE" : ""), conn, tx);
        cmd.Parameters.Add(new() { Value = trxId });
        cmd.Parameters.Add(new() { Value = merchantId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>The history of a transaction in order, as a statement to add to a batch.</summary>
    public static NpgsqlBatchCommand HistoryQuery(string trxId)
    {
        var cmd = new NpgsqlBatchCommand($"SELECT {HistoryColumns} FROM transactions.history WHERE trx_id = $1 ORDER BY seq");
        cmd.Parameters.Add(new() { Value = trxId });
        return cmd;
    }

    public static async Task<List<HistoryEntry>> ReadHistoryAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string trxId,
        CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(conn, tx) { BatchCommands = { HistoryQuery(trxId) } };
        await using var r = await batch.ExecuteReaderAsync(ct);
        var list = new List<HistoryEntry>();
        while (await r.ReadAsync(ct))
        {
            list.Add(ReadHistory(r));
        }
        return list;
    }
}

internal sealed record TransactionRow(TransactionSnapshot Snapshot, string MerchantId, string? CardToken);
