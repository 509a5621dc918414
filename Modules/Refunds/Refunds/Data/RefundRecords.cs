using Npgsql;

namespace Payments.Refunds.Data;

/// <summary>One refund as sent to the acquirer, and whether the ledger booked it.</summary>
internal sealed record RefundRecord(
    string RefundTrxId,
    string MerchantId,
    string PaymentTrxId,
    long Amount,
    string Currency,
    string? Reason,
    string AcquirerAnswer,
    string? AcquirerCode,
    bool Booked);

/// <summary>The <c>refunds.refunds</c> table: the acquirer side of every refund sent.</summary>
internal sealed class RefundRecords(NpgsqlDataSource db, TimeProvider clock)
{
    public const string Approved = "APPROVED";
    public const string Declined = "DECLINED";
    public const string Unknown = "UNKNOWN";

    /// <summary>
    /// Written after the ledger's transactions, never inside them. A refund is asked again under the same id when it
    /// is resumed or recovered (docs/adr/0082): a later answer or booking completes the row, a booked row stays as is.
    /// </summary>
    public async Task AddAsync(RefundRecord r, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO refunds.refunds AS f
                (refund_trx_id, merchant_id, payment_trx_id, amount, currency, reason, acquirer_answer, acquirer_code, booked, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (refund_trx_id) DO UPDATE
               SET acquirer_answer = excluded.acquirer_answer, acquirer_code = excluded.acquirer_code, booked = excluded.booked
             WHERE NOT f.booked AND excluded.acquirer_answer <> 'UNKNOWN'
            """);
        foreach (var v in new object?[]
                 {
                     r.RefundTrxId, r.MerchantId, r.PaymentTrxId, r.Amount, r.Currency, r.Reason, r.AcquirerAnswer,
                     r.AcquirerCode, r.Booked, clock.GetUtcNow(),
                 })
        {
            cmd.Parameters.Add(new() { Value = v ?? DBNull.Value });
        }
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
