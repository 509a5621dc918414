using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Ledger;

/// <summary>
/// The Refunds module's way to record refunds, in two short transactions (docs/adr/0082): a reservation of the amount,
/// then the booking of the acquirer's answer, with no lock held across the acquirer call between them. The
/// invariants live here and in the schema.
/// </summary>
internal sealed class RefundLedger(NpgsqlDataSource db, TimeProvider clock, OutboxSignal outbox, IHttpContextAccessor http,
    IOptions<IdempotencyOptions> idempotency, PendingCreations creations) : IRefundLedger
{
    private const string PendingColumns = """
        r.refund_trx_id, r.merchant_id, r.payment_trx_id, r.amount, r.currency, r.reason, r.attempt_key,
        (SELECT p.card_token FROM transactions.transactions p WHERE p.trx_id = r.payment_trx_id), r.created_at
        """;

    public async Task<RefundReservation> ReserveRefundAsync(RefundReservationRequest req, Func<TransactionSnapshot, long?> decide,
        CancellationToken ct)
    {
        var now = clock.UtcNowMicros();
        // A reservation answers retries of its key as long as the key itself is kept; after that the key is new again.
        var keyRetention = idempotency.Value.Retention;
        await using var conn = await db.OpenConnectionAsync(ct);
        // A retry of a keyed refund finds its first try's reservation: resumed while pending, answered once booked.
        if (req.AttemptKey != req.RefundTrxId &&
            await FindReservationAsync(conn, req.MerchantId, req.AttemptKey, now - keyRetention, ct) is { } earlier)
        {
            if (earlier.Pending.PaymentTrxId != req.PaymentTrxId)
            {
                throw new ProblemException(422, ErrorCodes.IdempotencyKeyReused,
                    "This Idempotency-Key was used for a refund of another payment.");
            }
            return earlier.Booked
                ? new RefundReservation(RefundReservationOutcome.Booked, Booked: await ReadBookedAsync(conn, earlier.Pending, ct))
                : new RefundReservation(RefundReservationOutcome.Resumed, earlier.Pending);
        }

        await using var tx = await conn.BeginTransactionAsync(ct);
        TransactionRow? payment = null;
        long reserved = 0;
        // Locked only for the rules and the reservation: the If-Match version and the amounts are judged on one state.
        await using (var cmd = new NpgsqlCommand($"""
            SELECT {TransactionRows.Columns}, t.refund_reserved_amount FROM transactions.transactions t
             WHERE t.trx_id = $1 AND t.merchant_id = $2 FOR UPDATE
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = req.PaymentTrxId });
            cmd.Parameters.Add(new() { Value = req.MerchantId });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                payment = TransactionRows.Read(r);
                reserved = r.GetInt64(TransactionRows.ColumnCount);
            }
        }
        if (payment is null)
        {
            return new RefundReservation(RefundReservationOutcome.NotFound);
        }
        if (decide(payment.Snapshot with { CardToken = payment.CardToken, RefundReserved = reserved }) is not { } amount)
        {
            await tx.RollbackAsync(ct);
            return new RefundReservation(RefundReservationOutcome.Wait);
        }
        if (amount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(decide), "A refund amount is at least 1.");
        }

        await using var batch = new NpgsqlBatch(conn, tx);
        // The database's rule, whatever the caller decided: only what is refundable may be reserved (the trigger
        // reservation_within_refundable refuses it too, for any statement).
        var hold = new NpgsqlBatchCommand("""
            UPDATE transactions.transactions SET refund_reserved_amount = refund_reserved_amount + $2
             WHERE trx_id = $1 AND type = 'PAYMENT' AND refunded_amount + charged_back_amount + refund_reserved_amount + $2 <= captured_amount
            """);
        hold.Parameters.Add(new() { Value = req.PaymentTrxId });
        hold.Parameters.Add(new() { Value = amount });
        batch.BatchCommands.Add(hold);
        // Not joined to the UPDATE: a reservation row exists only with its amount held (the batch is one transaction,
        // and the held count is checked before commit).
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO transactions.refund_reservations
                (refund_trx_id, merchant_id, payment_trx_id, amount, currency, reason, attempt_key, state, created_at, check_after)
            VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)
            """);
        foreach (var v in new object?[]
                 {
                     req.RefundTrxId, req.MerchantId, req.PaymentTrxId, amount, payment.Snapshot.Currency, req.Reason, req.AttemptKey, now,
                 })
        {
            insert.Parameters.Add(new() { Value = v ?? DBNull.Value });
        }
        batch.BatchCommands.Add(insert);
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == "refund_reservations_pending_key")
        {
            // Another request with this key reserved in between (the idempotency claim normally prevents it).
            throw new ProblemException(409, ErrorCodes.IdempotencyRequestInProgress,
                "A request with this Idempotency-Key is still being processed.") { RetryAfterSeconds = 1 };
        }
        if (hold.RecordsAffected != 1)
        {
            await tx.RollbackAsync(ct);
            throw new ProblemException(422, ErrorCodes.AmountExceedsRefundable, "The amount is more than is refundable.");
        }
        await tx.CommitAsync(ct);
        return new RefundReservation(RefundReservationOutcome.Reserved, new PendingRefund(req.RefundTrxId, req.MerchantId,
            req.PaymentTrxId, amount, payment.Snapshot.Currency, req.Reason, req.AttemptKey, payment.CardToken, now));
    }

    public async Task<RecordedRefund> BookRefundAsync(PendingRefund pending, RefundDecision decision, CancellationToken ct)
    {
        // No HttpContext for the recovery sweep: no idempotency answer to write.
        var claim = http.HttpContext?.IdempotencyClaim();
        // The REFUND row's creation time, pending for the list's as_of until this transaction ended.
        using var creation = creations.Stamp(pending.MerchantId);
        var now = creation.At;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Conditional: of a request, its retry and the recovery, the first to book wins and the others answer with it.
        await using (var cmd = new NpgsqlCommand("""
            UPDATE transactions.refund_reservations SET state = 'booked', resolved_at = $2
             WHERE refund_trx_id = $1 AND state = 'pending'
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = pending.RefundTrxId });
            cmd.Parameters.Add(new() { Value = now });
            if (await cmd.ExecuteNonQueryAsync(ct) == 0)
            {
                await tx.RollbackAsync(ct);
                return await ReadBookedAsync(conn, pending, ct);
            }
        }
        // Approved: the reserved amount becomes refunded (a chargeback recorded while the refund was in flight may
        // make it more than captured: flagged, as the chargeback would have been after it). Declined: given back,
        // and the payment's version is untouched, as the reservation never showed.
        var updated = decision.Approved
            ? await ChildTransactions.UpdatePaymentAsync(conn, tx, pending.PaymentTrxId, """
                refunded_amount = refunded_amount + $2, refund_reserved_amount = refund_reserved_amount - $2,
                over_recovered = over_recovered OR refunded_amount + charged_back_amount + $2 > captured_amount
                """, "refund_reserved_amount >= $2", pending.Amount, now, ct)
            : await ReleaseOnPaymentAsync(conn, tx, pending, ct);
        if (updated is null)
        {
            throw new InvalidOperationException($"The payment of refund {pending.RefundTrxId} does not hold its reservation.");
        }
        var child = await ChildTransactions.InsertAsync(conn, tx, updated, TransactionTypes.Refund, pending.Amount,
            decision.Approved ? null : decision.DeclineCode ?? "declined", null, pending.Reason, now, ct,
            pending.RefundTrxId, decision.Approved ? decision.AuthorizationCode : null);
        var changed = await ChildTransactions.FinishAsync(conn, tx, updated, child, "REFUND", pending.Amount, decision.Approved,
            TransactionEventTypes.RefundCreated, TransactionEventTypes.Refunded, claim, now, ct);
        return new RecordedRefund(changed.Transaction, updated.Snapshot);
    }

    public async Task ReleaseRefundAsync(PendingRefund pending, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            WITH gone AS (
                DELETE FROM transactions.refund_reservations WHERE refund_trx_id = $1 AND state = 'pending'
                RETURNING payment_trx_id, amount)
            UPDATE transactions.transactions t SET refund_reserved_amount = t.refund_reserved_amount - gone.amount
              FROM gone WHERE t.trx_id = gone.payment_trx_id
            """);
        cmd.Parameters.Add(new() { Value = pending.RefundTrxId });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<IReadOnlyList<PendingRefund>> TakeDueReservationsAsync(TimeSpan olderThan, TimeSpan lease, int limit,
        CancellationToken ct)
    {
        var now = clock.UtcNowMicros();
        await using var cmd = db.CreateCommand($"""
            WITH due AS (
                SELECT refund_trx_id FROM transactions.refund_reservations
                 WHERE state = 'pending' AND check_after <= $1 AND created_at <= $2
                 ORDER BY check_after LIMIT $3 FOR UPDATE SKIP LOCKED)
            UPDATE transactions.refund_reservations r SET check_after = $4
              FROM due WHERE r.refund_trx_id = due.refund_trx_id
            RETURNING {PendingColumns}
            """);
        cmd.Parameters.Add(new() { Value = now });
        cmd.Parameters.Add(new() { Value = now - olderThan });
        cmd.Parameters.Add(new() { Value = limit });
        cmd.Parameters.Add(new() { Value = now + lease });
        var list = new List<PendingRefund>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(ReadPending(r));
        }
        return list.OrderBy(p => p.CreatedAt).ToList();
    }

    private static async Task<TransactionRow?> ReleaseOnPaymentAsync(NpgsqlConnection conn, NpgsqlTransaction tx, PendingRefund pending,
        CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            UPDATE transactions.transactions t SET refund_reserved_amount = refund_reserved_amount - $2
             WHERE trx_id = $1 AND refund_reserved_amount >= $2
            RETURNING {TransactionRows.Columns}
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = pending.PaymentTrxId });
        cmd.Parameters.Add(new() { Value = pending.Amount });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? TransactionRows.Read(r) : null;
    }

    /// <summary>The latest reservation of an attempt key within the key's retention, and whether it was booked.</summary>
    private static async Task<FoundReservation?> FindReservationAsync(NpgsqlConnection conn, string merchantId,
        string attemptKey, DateTimeOffset since, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand($"""
            SELECT {PendingColumns}, r.state = 'booked'
              FROM transactions.refund_reservations r
             WHERE r.merchant_id = $1 AND r.attempt_key = $2 AND r.created_at > $3
             ORDER BY r.state = 'pending' DESC, r.created_at DESC LIMIT 1
            """, conn);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = attemptKey });
        cmd.Parameters.Add(new() { Value = since });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? new FoundReservation(ReadPending(r), r.GetBoolean(9)) : null;
    }

    private sealed record FoundReservation(PendingRefund Pending, bool Booked);

    private static PendingRefund ReadPending(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5),
            r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.GetFieldValue<DateTimeOffset>(8));

    /// <summary>A booked reservation's refund (with history) and its payment as they are now.</summary>
    private static async Task<RecordedRefund> ReadBookedAsync(NpgsqlConnection conn, PendingRefund pending, CancellationToken ct)
    {
        var refund = await TransactionRows.ReadAsync(conn, null, pending.MerchantId, pending.RefundTrxId, ct)
                     ?? throw new InvalidOperationException($"Refund {pending.RefundTrxId} is booked but not found.");
        var payment = await TransactionRows.ReadAsync(conn, null, pending.MerchantId, pending.PaymentTrxId, ct)
                      ?? throw new InvalidOperationException($"The payment of refund {pending.RefundTrxId} is not found.");
        return new RecordedRefund(refund.Snapshot with { History = await TransactionRows.ReadHistoryAsync(conn, null, pending.RefundTrxId, ct) },
            payment.Snapshot);
    }

    public void PublishPending() => outbox.Kick();
}
