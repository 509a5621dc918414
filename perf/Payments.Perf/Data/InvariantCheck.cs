using Npgsql;
using Payments.Perf.Api;

namespace Payments.Perf.Data;

/// <summary>What the database says about the operations the gateway acknowledged.</summary>
internal sealed record InvariantReport(long Payments, long Captures, long Voids, long Refunds, IReadOnlyList<string> Violations, string Schema)
{
    public bool Holds => Violations.Count == 0;
}

/// <summary>
/// After the run, against the Host's database: every acknowledged payment and refund is there exactly once, with the
/// acknowledged amount; no acknowledged capture, void or refund is missing from its payment's amounts; no payment
/// anywhere has more captured and voided than authorized, or more refunded and reserved for refunds in flight than
/// captured, or a reserved amount other than its pending reservations'; and a payment's CAPTURE
/// history entries add up to its captured amount (nothing recorded twice).
/// </summary>
internal static class InvariantCheck
{
    private const int MaxListed = 20;

    public static async Task<InvariantReport> RunAsync(string adminConnectionString, IReadOnlyList<Ack> acks)
    {
        var cs = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = "payments", CommandTimeout = 600 }.ConnectionString;
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        var s = await TransactionsSchema.FindAsync(conn);
        var violations = new List<string>();
        void Fail(string v)
        {
            if (violations.Count < MaxListed)
            {
                violations.Add(v);
            }
            else if (violations.Count == MaxListed)
            {
                violations.Add("… more violations not listed");
            }
        }

        var payments = acks.Where(a => a.Kind is AckKind.Authorize or AckKind.Authcap).ToList();
        var byTrx = acks.GroupBy(a => a.TrxId).ToDictionary(g => g.Key, g => g.ToList());
        var refunded = s.Has("refunded_amount") ? "refunded_amount" : "0";
        var rows = new Dictionary<string, (long Order, long Captured, long Voided, long Refunded, long Count)>();
        await using (var cmd = new NpgsqlCommand(
            $"""
            SELECT "{s.IdColumn}", min(order_amount), min(captured_amount), min(voided_amount), min({refunded}), count(*)
            FROM {s.Table} WHERE "{s.IdColumn}" = ANY(@ids) GROUP BY "{s.IdColumn}"
            """, conn))
        {
            cmd.Parameters.AddWithValue("ids", byTrx.Keys.ToArray());
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                rows[r.GetString(0)] = (r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5));
            }
        }
        foreach (var (trx, ops) in byTrx)
        {
            var created = ops.FirstOrDefault(o => o.Kind is AckKind.Authorize or AckKind.Authcap);
            if (!rows.TryGetValue(trx, out var row))
            {
                Fail($"{trx}: acknowledged ({string.Join(", ", ops.Select(o => o.Kind))}) but not in {s.Table}");
                continue;
            }
            if (row.Count != 1)
            {
                Fail($"{trx}: {row.Count} rows");
            }
            if (created is not null && row.Order != created.Amount)
            {
                Fail($"{trx}: order_amount {row.Order}, acknowledged {created.Amount}");
            }
            var capturedAck = ops.Where(o => o.Kind == AckKind.Capture).Sum(o => o.Amount < 0 ? row.Order : o.Amount)
                              + (created?.Kind == AckKind.Authcap ? created.Amount : 0);
            if (row.Captured < capturedAck)
            {
                Fail($"{trx}: captured_amount {row.Captured} below the {capturedAck} acknowledged");
            }
            if (ops.Any(o => o.Kind == AckKind.Void) && row.Voided == 0)
            {
                Fail($"{trx}: a void was acknowledged but voided_amount is 0");
            }
            var refundAck = ops.Where(o => o.Kind == AckKind.Refund).Sum(o => o.Amount);
            if (refunded != "0" && row.Refunded < refundAck)
            {
                Fail($"{trx}: refunded_amount {row.Refunded} below the {refundAck} acknowledged");
            }
        }

        // Refunds are transactions of their own.
        var refundIds = acks.Where(a => a.RefundId is not null).Select(a => a.RefundId!).ToArray();
        if (refundIds.Length > 0)
        {
            await using var cmd = new NpgsqlCommand(
                $"""SELECT count(*), count(DISTINCT "{s.IdColumn}") FROM {s.Table} WHERE "{s.IdColumn}" = ANY(@ids)""", conn);
            cmd.Parameters.AddWithValue("ids", refundIds);
            await using var r = await cmd.ExecuteReaderAsync();
            await r.ReadAsync();
            if (r.GetInt64(0) != refundIds.Length || r.GetInt64(1) != refundIds.Length)
            {
                Fail($"refunds: {refundIds.Length} acknowledged, {r.GetInt64(1)} distinct rows, {r.GetInt64(0)} rows");
            }
        }

        // Bounds, over every row (seeded ones included). Refunds in flight (reserved, docs/adr/0082) count with the
        // refunded amount: the acquirer may have made them.
        var reserved = s.Has("refund_reserved_amount") ? "refund_reserved_amount" : "0";
        await using (var cmd = new NpgsqlCommand(
            $"""
            SELECT "{s.IdColumn}", order_amount, captured_amount, voided_amount, {refunded}, {reserved} FROM {s.Table}
            WHERE captured_amount < 0 OR voided_amount < 0 OR captured_amount + voided_amount > order_amount
               OR {refunded} + {reserved} > captured_amount OR {reserved} < 0
            LIMIT 20
            """, conn))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                Fail($"{r.GetString(0)}: order {r.GetInt64(1)}, captured {r.GetInt64(2)}, voided {r.GetInt64(3)}, refunded {r.GetInt64(4)}, reserved {r.GetInt64(5)}: over its bound");
            }
        }

        // Each payment's reserved amount is exactly what its pending reservations hold.
        if (reserved != "0")
        {
            await using var cmd = new NpgsqlCommand(
                $"""
                SELECT t."{s.IdColumn}", t.refund_reserved_amount, coalesce(p.held, 0)
                FROM {s.Table} t
                LEFT JOIN (SELECT payment_trx_id, sum(amount) AS held FROM transactions.refund_reservations
                           WHERE state = 'pending' GROUP BY 1) p ON p.payment_trx_id = t."{s.IdColumn}"
                WHERE t.refund_reserved_amount <> coalesce(p.held, 0)
                LIMIT 20
                """, conn);
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                Fail($"{r.GetString(0)}: refund_reserved_amount {r.GetInt64(1)} but its pending reservations hold {r.GetInt64(2)}");
            }
        }

        // History: CAPTURE entries add up to captured_amount for every acknowledged payment (no entry twice or missing).
        if (s.HistoryTable is not null && s.HistoryTrxColumn is not null && s.HistoryAmountColumn is not null && payments.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(
                $"""
                SELECT t."{s.IdColumn}", t.captured_amount, coalesce(h.captured, 0), coalesce(h.entries, 0)
                FROM {s.Table} t
                LEFT JOIN (SELECT "{s.HistoryTrxColumn}" AS trx, sum("{s.HistoryAmountColumn}") FILTER (WHERE upper({s.HistoryOperationColumn}::text) = 'CAPTURE') AS captured,
                                  count(*) AS entries
                           FROM {s.HistoryTable} WHERE "{s.HistoryTrxColumn}" = ANY(@ids) GROUP BY 1) h ON h.trx = t."{s.IdColumn}"
                WHERE t."{s.IdColumn}" = ANY(@ids) AND (coalesce(h.captured, 0) <> t.captured_amount OR coalesce(h.entries, 0) = 0)
                LIMIT 20
                """, conn);
            cmd.Parameters.AddWithValue("ids", payments.Select(p => p.TrxId).ToArray());
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                Fail($"{r.GetString(0)}: captured_amount {r.GetInt64(1)} but CAPTURE history adds to {r.GetInt64(2)} ({r.GetInt64(3)} entries)");
            }
        }

        var schemaNote = $"{s.Table} (id {s.IdColumn})" + (s.HistoryTable is null ? ", no history table found" : $", history {s.HistoryTable}");
        return new InvariantReport(
            payments.Count, acks.Count(a => a.Kind == AckKind.Capture), acks.Count(a => a.Kind == AckKind.Void), refundIds.Length,
            violations, schemaNote);
    }
}
