using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Payments.Vault.Audit;
using Payments.Vault.Contracts;

namespace Payments.Vault.Acquirer;

internal sealed class ApprovalOptions
{
    /// <summary>How long confirmed and reversed approvals are kept (for diagnosis) before the purge deletes them.</summary>
    public TimeSpan DecidedRetention { get; set; } = TimeSpan.FromDays(30);
}

/// <summary>
/// <c>vault.approvals</c> (ADR 133): every approved authorization until the Host confirms it booked it or asks for its
/// reversal. Only the Host decides (it alone knows what it booked), so an approval is never reversed while the Host is
/// away. A retry given the same answer adds its reference; once the Host holds an approval for reversal
/// (<c>reversing</c>), retries are refused for now, and after the reversal its attempt key takes a fresh authorization.
/// </summary>
internal sealed class Approvals(NpgsqlDataSource db, AuditLog audit, IOptions<VaultOptions> options)
{
    /// <summary>Records an approval: a statement of the use's batch B, committed with its answer and outcome row.</summary>
    public static NpgsqlBatchCommand RecordCommand(string merchantId, string action, AcquirerRequest request, string code)
    {
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO vault.approvals (merchant_id, attempt_key, action, card_token, amount, currency, authorization_code, refs)
            VALUES ($1, $2, $3, $4, $5, $6, $7, ARRAY[$8])
            """);
        foreach (var v in new object?[] { merchantId, request.AttemptKey, action, request.CardToken, request.Amount, request.Currency, code, request.Reference })
        {
            cmd.Parameters.Add(new() { Value = v ?? DBNull.Value });
        }
        cmd.Parameters[1].NpgsqlDbType = NpgsqlDbType.Text;
        return cmd;
    }

    /// <summary>
    /// A retry is about to be given the key's first (approved) answer: adds its reference. False when the Host holds
    /// the approval for reversal or has reversed it: the retry must not get it (it is refused for now).
    /// </summary>
    public async Task<bool> NoteRepeatAsync(NpgsqlConnection conn, string merchantId, string attemptKey, string reference,
        CancellationToken ct)
    {
        // Serialized with HoldAsync on the row: either the reference is in before the hold (which then fails, as the
        // references changed), or the hold is first and this retry is refused.
        await using var cmd = new NpgsqlCommand("""
            WITH latest AS (SELECT id, state FROM vault.approvals WHERE merchant_id = $1 AND attempt_key = $2 ORDER BY id DESC LIMIT 1),
                 noted AS (UPDATE vault.approvals a
                              SET refs = CASE WHEN $3 = ANY (a.refs) OR cardinality(a.refs) >= 100 THEN a.refs ELSE array_append(a.refs, $3) END,
                                  handed_out_at = now()
                             FROM latest WHERE a.id = latest.id AND a.state = 'unconfirmed' RETURNING a.id)
            SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM latest) THEN true
                        WHEN EXISTS (SELECT 1 FROM noted) THEN true
                        ELSE (SELECT state = 'confirmed' FROM latest) END
            """, conn);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = attemptKey });
        cmd.Parameters.Add(new() { Value = reference });
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Approvals not confirmed or reversed, last handed out before <paramref name="olderThan"/> ago, oldest first.</summary>
    public async Task<IReadOnlyList<OpenApproval>> ListOpenAsync(TimeSpan olderThan, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT id, merchant_id, refs, state, amount, currency, approved_at FROM vault.approvals
             WHERE state IN ('unconfirmed', 'reversing') AND handed_out_at < now() - $1
             ORDER BY handed_out_at LIMIT $2
            """);
        cmd.Parameters.Add(new() { Value = olderThan });
        cmd.Parameters.Add(new() { Value = limit });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<OpenApproval>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new OpenApproval(r.GetInt64(0), r.GetString(1), r.GetFieldValue<string[]>(2), r.GetString(3), r.GetInt64(4),
                r.GetString(5), r.GetFieldValue<DateTimeOffset>(6)));
        }
        return list;
    }

    /// <summary>
    /// Holds an approval for reversal if its references are still the ones the Host checked: from now on no retry gets
    /// it. True when it is held (now or already).
    /// </summary>
    public Task<bool> HoldAsync(long id, IReadOnlyList<string> checkedRefs, CancellationToken ct) =>
        MoveAsync("""
            UPDATE vault.approvals SET state = 'reversing'
             WHERE id = $1 AND (state = 'reversing' OR (state = 'unconfirmed' AND refs = $2))
            RETURNING merchant_id, attempt_key
            """, [id, checkedRefs.ToArray()], "answered", "reversing", ct);

    /// <summary>The Host booked it: never reversed. True unless it was reversed already (or is unknown).</summary>
    public Task<bool> ConfirmAsync(long id, CancellationToken ct) =>
        MoveAsync("""
            UPDATE vault.approvals SET state = 'confirmed', decided_at = coalesce(decided_at, now())
             WHERE id = $1 AND state IN ('unconfirmed', 'reversing', 'confirmed')
            RETURNING merchant_id, attempt_key
            """, [id], "reversing", "answered", ct);

    /// <summary>
    /// Moves an approval (<paramref name="sql"/> returns its merchant and attempt key when it applies) and its attempt
    /// key from <paramref name="attemptFrom"/> to <paramref name="attemptTo"/>, in one transaction.
    /// </summary>
    private async Task<bool> MoveAsync(string sql, object[] args, string attemptFrom, string attemptTo, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand(sql, conn, tx))
        {
            foreach (var a in args)
            {
                cmd.Parameters.Add(new() { Value = a });
            }
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                return false;
            }
            var (merchant, key) = (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1));
            await r.CloseAsync();
            if (key is not null)
            {
                await SetAttemptStateAsync(conn, tx, merchant, key, attemptFrom, attemptTo, ct);
            }
        }
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// Reverses a held approval at the acquirer and audits it, in one transaction with the state change; the attempt
    /// key then takes a fresh authorization. Null when the approval is not held (confirmed, unknown); its outcome else.
    /// </summary>
    public async Task<ReversalOutcome?> ReverseAsync(long id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        string merchant, token, code, action, currency;
        string? key;
        long amount;
        string[] refs;
        await using (var cmd = new NpgsqlCommand("""
            SELECT merchant_id, attempt_key, card_token, authorization_code, action, amount, currency, refs, state
              FROM vault.approvals WHERE id = $1 FOR UPDATE
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                return null;
            }
            if (r.GetString(8) == "reversed")
            {
                return new ReversalOutcome(id, true, r.GetString(3)); // a second Host asked too
            }
            if (r.GetString(8) != "reversing")
            {
                return null;
            }
            (merchant, key, token, code, action, amount, currency, refs) = (r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1),
                r.GetString(2), r.GetString(3), r.GetString(4), r.GetInt64(5), r.GetString(6), r.GetFieldValue<string[]>(7));
        }
        // The acquirer reverses by its authorization code: no card data is needed, nothing is decrypted.
        var reversed = SandboxAcquirer.Reverse(code);
        await using (var cmd = new NpgsqlCommand(
            "UPDATE vault.approvals SET state = 'reversed', decided_at = now() WHERE id = $1", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (key is not null)
        {
            await SetAttemptStateAsync(conn, tx, merchant, key, "reversing", "reversed", ct);
        }
        await audit.AppendAsync(conn, tx, "card.reversed", merchant, token, new Dictionary<string, object?>
        {
            ["approval_id"] = id, ["reversed_action"] = action, ["references"] = refs, ["amount"] = amount, ["currency"] = currency,
            ["authorization_code"] = code, ["reversal_accepted"] = reversed, ["reason"] = "not booked by the Host",
        }, ct);
        await tx.CommitAsync(ct);
        return new ReversalOutcome(id, reversed, code);
    }

    /// <summary>Deletes up to 10,000 decided approvals past their retention; returns how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            DELETE FROM vault.approvals WHERE id IN
              (SELECT id FROM vault.approvals WHERE decided_at < now() - $1 LIMIT 10000)
            """);
        cmd.Parameters.Add(new() { Value = options.Value.Approvals.DecidedRetention });
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task SetAttemptStateAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string merchantId, string attemptKey,
        string from, string to, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "UPDATE vault.acquirer_attempts SET state = $4 WHERE merchant_id = $1 AND attempt_key = $2 AND state = $3", conn, tx);
        foreach (var v in new object[] { merchantId, attemptKey, from, to })
        {
            cmd.Parameters.Add(new() { Value = v });
        }
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
