using Npgsql;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>A validated list query.</summary>
internal sealed record ListQuery(
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset AsOf,
    long Offset,
    int Limit,
    string SortBy,
    bool Descending,
    string? Type,
    string? Status);

internal sealed partial class TransactionStore
{
    private static readonly Dictionary<string, string> SortColumns = new(StringComparer.Ordinal)
    {
        ["type"] = "t.type",
        ["status"] = "t.status",
        ["order_amount"] = "t.order_amount",
        ["created_at"] = "t.created_at",
        ["updated_at"] = "t.updated_at",
    };

    public static bool IsSortField(string value) => SortColumns.ContainsKey(value);

    /// <summary>One page and the total of rows matching (docs/adr/0033 for the indexes and plans).</summary>
    public async Task<(IReadOnlyList<TransactionSnapshot> Page, long Total)> ListAsync(string merchantId, ListQuery q, CancellationToken ct)
    {
        // The created_at range of the contract, cut at the as_of watermark so later rows never shift pages.
        const string where = """
            t.merchant_id = $1 AND t.created_at >= $2 AND t.created_at <= $3 AND t.created_at <= $4
            AND ($5::text IS NULL OR t.type = $5) AND ($6::text IS NULL OR t.status = $6)
            """;
        var dir = q.Descending ? "DESC" : "ASC";
        var order = $"{SortColumns[q.SortBy]} {dir}, t.trx_id {dir}";
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(conn);
        var page = new NpgsqlBatchCommand(
            $"SELECT {TransactionRows.Columns} FROM transactions.transactions t WHERE {where} ORDER BY {order} OFFSET $7 LIMIT $8");
        var count = new NpgsqlBatchCommand($"SELECT count(*) FROM transactions.transactions t WHERE {where}");
        foreach (var cmd in new[] { page, count })
        {
            cmd.Parameters.Add(new() { Value = merchantId });
            cmd.Parameters.Add(new() { Value = q.From });
            cmd.Parameters.Add(new() { Value = q.To });
            cmd.Parameters.Add(new() { Value = q.AsOf });
            cmd.Parameters.Add(new() { Value = (object?)q.Type ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = (object?)q.Status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        }
        page.Parameters.Add(new() { Value = q.Offset });
        page.Parameters.Add(new() { Value = q.Limit });
        batch.BatchCommands.Add(page);
        batch.BatchCommands.Add(count);
        var rows = new List<TransactionSnapshot>(q.Limit);
        await using var r = await batch.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            rows.Add(TransactionRows.Read(r).Snapshot);
        }
        await r.NextResultAsync(ct);
        await r.ReadAsync(ct);
        return (rows, r.GetInt64(0));
    }
}
