using Npgsql;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.Lookup;

/// <summary>The lookup slice's SQL: one payment by the merchant's own id, with its history.</summary>
internal sealed class LookupData(NpgsqlDataSource db)
{
    public async Task<TransactionSnapshot?> LookupAsync(string merchantId, string idType, string id, CancellationToken ct)
    {
        // An external_id names one payment, or the payments of one intent confirmed again after declines: the latest.
        var where = idType == "external_id"
            ? "t.merchant_id = $1 AND t.type = 'PAYMENT' AND t.external_id = $2 ORDER BY t.created_at DESC, t.trx_id DESC"
            : "t.merchant_id = $1 AND t.type = 'PAYMENT' AND t.order_id = $2 ORDER BY t.created_at DESC, t.trx_id DESC";
        await using var conn = await db.OpenConnectionAsync(ct);
        TransactionRow? row;
        await using (var cmd = new NpgsqlCommand($"SELECT {TransactionRows.Columns} FROM transactions.transactions t WHERE {where} LIMIT 1", conn))
        {
            cmd.Parameters.Add(new() { Value = merchantId });
            cmd.Parameters.Add(new() { Value = id });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            row = await r.ReadAsync(ct) ? TransactionRows.Read(r) : null;
        }
        return row is null ? null : row.Snapshot with { History = await TransactionRows.ReadHistoryAsync(conn, null, row.Snapshot.TrxId, ct) };
    }
}
