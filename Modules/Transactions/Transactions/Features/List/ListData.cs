using Npgsql;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.List;

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

/// <summary>The list slice's SQL: one page and its total in one snapshot.</summary>
internal sealed class ListData(NpgsqlDataSource db)
{
    private static readonly Dictionary<string, string> SortColumns = new(StringComparer.Ordinal)
    {
        ["type"] = "t.type",
        ["status"] = "t.status",
        ["order_amount"] = "t.order_amount",
        ["created_at"] = "t.created_at",
        ["updated_at"] = "t.updated_at",
    };

    /// <summary>
    /// The counters: the folded totals and the deltas not folded yet (migration 0006). A snapshot sees each change in
    /// exactly one of the two; the conditions on the union reach both tables' indexes.
    /// </summary>
    private const string Counters = """
        (SELECT merchant_id, span, bucket, type, status, n FROM transactions.list_counts
         UNION ALL
         SELECT merchant_id, span, bucket, type, status, n FROM transactions.list_count_deltas)
        """;

    public static bool IsSortField(string value) => SortColumns.ContainsKey(value);

    /// <summary>One page and the total of rows matching (docs/adr/0033 for the indexes, the counts and the plans).</summary>
    public async Task<(IReadOnlyList<TransactionSnapshot> Page, long Total)> ListAsync(string merchantId, ListQuery q, CancellationToken ct)
    {
        // The created_at range of the contract, cut at the as_of watermark so later rows never shift pages.
        var cut = q.To < q.AsOf ? q.To : q.AsOf;
        // The total: whole UTC days from the daily counts, whole hours of the cut's day from the hourly counts,
        // the rows of the cut's hour counted one by one. The range starts at 00:00 UTC (the contract's dates).
        var cutDay = new DateTimeOffset(cut.UtcDateTime.Date, TimeSpan.Zero);
        var cutHour = cutDay.AddHours(cut.UtcDateTime.Hour);
        var hoursFrom = q.From > cutDay ? q.From : cutDay;
        var rowsFrom = q.From > cutHour ? q.From : cutHour;
        // Only the filters asked for, so each combination has its own statement and plan.
        var filters = (q.Type is null ? "" : " AND t.type = $4") + (q.Status is null ? "" : " AND t.status = $5");
        var dir = q.Descending ? "DESC" : "ASC";

        await using var conn = await db.OpenConnectionAsync(ct);
        // One snapshot for the page and its total; plans made for the values given (a generic plan cannot know
        // whether a date range holds a day or a year of rows).
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL plan_cache_mode = force_custom_plan"));
        var page = new NpgsqlBatchCommand($"""
            SELECT {TransactionRows.Columns} FROM transactions.transactions t
             WHERE t.merchant_id = $1 AND t.created_at >= $2 AND t.created_at <= $3{filters}
             ORDER BY {SortColumns[q.SortBy]} {dir}, t.trx_id {dir} OFFSET $6 LIMIT $7
            """);
        var c = filters.Replace("t.", "c.", StringComparison.Ordinal);
        var total = new NpgsqlBatchCommand($"""
            SELECT (SELECT COALESCE(sum(c.n), 0) FROM {Counters} c
                     WHERE c.merchant_id = $1 AND c.span = 'd' AND c.bucket >= $6 AND c.bucket < $7{c})
                 + (SELECT COALESCE(sum(c.n), 0) FROM {Counters} c
                     WHERE c.merchant_id = $1 AND c.span = 'h' AND c.bucket >= $7 AND c.bucket < $8{c})
                 + (SELECT count(*) FROM transactions.transactions t
                     WHERE t.merchant_id = $1 AND t.created_at >= $2 AND t.created_at <= $3{filters})
            """);
        AddParameters(page, merchantId, q.From, cut, q);
        page.Parameters.Add(new() { Value = q.Offset });
        page.Parameters.Add(new() { Value = q.Limit });
        AddParameters(total, merchantId, rowsFrom, cut, q);
        total.Parameters.Add(new() { Value = q.From });
        total.Parameters.Add(new() { Value = hoursFrom });
        total.Parameters.Add(new() { Value = cutHour });
        batch.BatchCommands.Add(page);
        batch.BatchCommands.Add(total);

        var rows = new List<TransactionSnapshot>(q.Limit);
        long count;
        await using (var r = await batch.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                rows.Add(TransactionRows.Read(r).Snapshot);
            }
            await r.NextResultAsync(ct);
            await r.ReadAsync(ct);
            count = r.GetInt64(0);
        }
        await tx.CommitAsync(ct);
        return (rows, count);
    }

    /// <summary>$1 merchant, $2 and $3 the created_at bounds, $4 type and $5 status (typed, so unused ones are harmless).</summary>
    private static void AddParameters(NpgsqlBatchCommand cmd, string merchantId, DateTimeOffset from, DateTimeOffset to, ListQuery q)
    {
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = from });
        cmd.Parameters.Add(new() { Value = to });
        cmd.Parameters.Add(new() { Value = (object?)q.Type ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)q.Status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
    }
}
