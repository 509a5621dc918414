using Npgsql;

namespace Payments.Perf.Data;

/// <summary>
/// Where the Host keeps transactions, found in the <c>transactions</c> schema by shape rather than by name: the table
/// with <c>order_amount</c> and <c>captured_amount</c>, and the history table with <c>seq</c> and <c>operation</c>.
/// The suite reads them after the run (and the list seeder writes to the first); it never depends on C# types.
/// </summary>
internal sealed record TransactionsSchema(
    string Table, string IdColumn, string MerchantColumn, IReadOnlyList<string> Columns,
    string? HistoryTable, string? HistoryTrxColumn, string? HistoryOperationColumn, string? HistoryAmountColumn)
{
    public bool Has(string column) => Columns.Contains(column);

    public static async Task<TransactionsSchema> FindAsync(NpgsqlConnection conn)
    {
        var tables = new Dictionary<string, List<string>>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'transactions' ORDER BY table_name, ordinal_position", conn))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                var t = r.GetString(0);
                if (!tables.TryGetValue(t, out var cols))
                {
                    tables[t] = cols = [];
                }
                cols.Add(r.GetString(1));
            }
        }
        var main = tables.FirstOrDefault(t => t.Value.Contains("order_amount") && t.Value.Contains("captured_amount"));
        if (main.Key is null)
        {
            throw new InvalidOperationException(
                "No table in schema 'transactions' has order_amount and captured_amount: the transactions module is not merged yet.");
        }
        var id = new[] { "trx_id", "id" }.First(c => main.Value.Contains(c));
        var merchant = main.Value.FirstOrDefault(c => c == "merchant_id") ?? throw new InvalidOperationException("transactions table has no merchant_id");
        var history = tables.FirstOrDefault(t => t.Key != main.Key && t.Value.Contains("seq") && t.Value.Contains("operation"));
        return new TransactionsSchema(
            $"transactions.\"{main.Key}\"", id, merchant, main.Value,
            history.Key is null ? null : $"transactions.\"{history.Key}\"",
            history.Value?.FirstOrDefault(c => c is "trx_id" or "transaction_id"),
            history.Key is null ? null : "operation",
            history.Value?.FirstOrDefault(c => c == "amount"));
    }
}
