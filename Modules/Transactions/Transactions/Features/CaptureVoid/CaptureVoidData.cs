using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.CaptureVoid;

/// <summary>A capture or a void as its request asked for it.</summary>
internal sealed record CaptureChange(string MerchantId, string TrxId, bool Capture, long? Amount, IfMatchCondition? IfMatch,
    IdempotencyClaim? Claim)
{
    /// <summary>Its history entry's operation.</summary>
    public string Operation => Capture ? "CAPTURE" : "VOID";

    /// <summary>Its event's type.</summary>
    public string EventType => Capture ? TransactionEventTypes.Captured : TransactionEventTypes.Voided;
}

/// <summary>
/// The capture and void slice's SQL: one conditional statement on the locked row (state, version and amount checked
/// where they are), then the history entry, the event, the stored answer and the commit in the last batch; for one
/// change, or set-based for a group of them (<see cref="CaptureWriter"/>).
/// </summary>
internal sealed class CaptureVoidData(NpgsqlDataSource db, TimeProvider clock)
{
    /// <summary>One change alone: its own transaction.</summary>
    public async Task<Changed> CaptureOrVoidAsync(CaptureChange c, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        // The transaction is opened and committed by statements in the two batches, not by NpgsqlTransaction, so the
        // commit rides in the second batch: three round trips instead of four (docs/adr/0034).
        try
        {
            return await InTransactionAsync(conn, c, ct);
        }
        catch
        {
            // A refusal, an error in either batch (the transaction is then aborted) or a cancelled call: nothing of it
            // may stay, and the connection goes back to the pool outside any transaction.
            await RollbackQuietlyAsync(conn);
            throw;
        }
    }

    private async Task<Changed> InTransactionAsync(NpgsqlConnection conn, CaptureChange c, CancellationToken ct)
    {
        var (merchantId, trxId, capture, amount, ifMatch, claim) = c;
        var now = clock.UtcNowMicros();
        var column = capture ? "captured_amount" : "voided_amount";
        TransactionRow? row = null;
        long applied = 0;
        var history = new List<HistoryEntry>();
        // One round trip: the conditional statement on the locked row, then the history the new entry chains to (the
        // UPDATE does not touch it). The UPDATE names the key itself: joined only through the CTE, the planner scanned
        // the open-status partial index (whose dead entries grow between vacuums) for every capture: 2.9 ms of
        // PostgreSQL time each under load instead of 0.1.
        await using (var read = new NpgsqlBatch(conn))
        {
            read.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
            var update = new NpgsqlBatchCommand($"""
                WITH cur AS (
                    SELECT trx_id, order_amount - captured_amount - voided_amount AS remaining
                      FROM transactions.transactions WHERE trx_id = $1 AND merchant_id = $2 FOR UPDATE)
                UPDATE transactions.transactions t
                   SET {column} = t.{column} + COALESCE($3, cur.remaining), version = t.version + 1, updated_at = GREATEST($5, t.updated_at)
                  FROM cur
                 WHERE t.trx_id = $1 AND t.trx_id = cur.trx_id AND t.type = 'PAYMENT' AND t.status = ANY($6)
                   AND ($4::bigint[] IS NULL OR t.version = ANY($4))
                   AND COALESCE($3, cur.remaining) <= cur.remaining
                RETURNING {TransactionRows.Columns}, COALESCE($3, cur.remaining)
                """);
            update.Parameters.Add(new() { Value = trxId });
            update.Parameters.Add(new() { Value = merchantId });
            update.Parameters.Add(new() { Value = (object?)amount ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
            update.Parameters.Add(new() { Value = (object?)ifMatch?.Versions ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint });
            update.Parameters.Add(new() { Value = now });
            update.Parameters.Add(new() { Value = TransactionRows.OpenStatuses });
            read.BatchCommands.Add(update);
            read.BatchCommands.Add(TransactionRows.HistoryQuery(trxId));
            await using var r = await read.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                row = TransactionRows.Read(r);
                applied = r.GetInt64(TransactionRows.ColumnCount);
            }
            await r.NextResultAsync(ct);
            while (await r.ReadAsync(ct))
            {
                history.Add(TransactionRows.ReadHistory(r));
            }
        }
        if (row is null)
        {
            throw Refusal(await TransactionRows.ReadAsync(conn, null, merchantId, trxId, ct), ifMatch, amount);
        }
        var entry = HistoryChain.Next(trxId, history.LastOrDefault(), c.Operation, applied, row.Snapshot.Status, now);
        history.Add(entry);
        var final = row.Snapshot with { History = history };
        var body = Changes.Serialize(final);

        await using var batch = new NpgsqlBatch(conn);
        batch.BatchCommands.Add(HistoryChain.InsertCommand(trxId, entry));
        batch.BatchCommands.Add(OutboxWriter.Command(c.EventType, merchantId, now, row.Snapshot));
        Changes.AddCompletion(batch, claim, 200, body, final.Version, now);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        await batch.ExecuteNonQueryAsync(ct);
        claim?.MarkCommitted();
        return new Changed(final, body);
    }

    /// <summary>
    /// Captures and voids in one transaction, in rounds: the first change of each payment, then the second of each, and
    /// so on, each round the same conditional statement over its payments (rows locked in trx_id order by the first
    /// round, as every group locks them) in one round trip. A burst on one payment is then one commit instead of one
    /// per change, so it is not shed as overload (the contract: serialized, never refused for contention). The
    /// histories are read with the first round; every entry, event and stored answer is written set-based with the
    /// commit. Returns each change's answer, or null for one the group left out, to be written alone: one with
    /// If-Match, or one the row's state or amount refused (alone, it gets its refusal).
    /// </summary>
    /// <exception cref="GroupOutcomeUnknownException">The connection broke after the commit was sent, and whether it
    /// committed could not be found out: none of the changes may be written again.</exception>
    public async Task<Changed?[]> GroupAsync(IReadOnlyList<CaptureChange> changes)
    {
        var results = new Changed?[changes.Count];
        var rounds = Rounds(changes);
        if (rounds.Count == 0)
        {
            return results;
        }
        var now = clock.UtcNowMicros();
        await using var conn = await db.OpenConnectionAsync();
        var applied = new List<(int Index, TransactionRow Row, long Amount)>();
        var histories = new Dictionary<string, List<HistoryEntry>>(StringComparer.Ordinal);
        string xid;
        try
        {
            await using (var first = new NpgsqlBatch(conn))
            {
                first.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
                first.BatchCommands.Add(RoundCommand(changes, rounds[0], now));
                // Put in order here, not by the query: with ORDER BY the planner walked the history's key in order
                // and filtered, 2.3 ms a group under load against 0.03 ms for the lookups of each key.
                var history = new NpgsqlBatchCommand(
                    $"SELECT trx_id, {TransactionRows.HistoryColumns} FROM transactions.history WHERE trx_id = ANY($1)");
                history.Parameters.Add(new() { Value = rounds[0].Select(i => changes[i].TrxId).ToArray() });
                first.BatchCommands.Add(history);
                first.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_current_xact_id()::text"));
                await using var r = await first.ExecuteReaderAsync();
                await ReadRoundAsync(r, rounds[0], applied);
                await r.NextResultAsync();
                while (await r.ReadAsync())
                {
                    var trxId = r.GetString(0);
                    if (!histories.TryGetValue(trxId, out var list))
                    {
                        histories[trxId] = list = [];
                    }
                    list.Add(TransactionRows.ReadHistory(r, 1));
                }
                await r.NextResultAsync();
                await r.ReadAsync();
                xid = r.GetString(0);
            }
            foreach (var round in rounds.Skip(1))
            {
                await using var next = new NpgsqlBatch(conn);
                next.BatchCommands.Add(RoundCommand(changes, round, now));
                await using var r = await next.ExecuteReaderAsync();
                await ReadRoundAsync(r, round, applied);
            }
            foreach (var list in histories.Values)
            {
                list.Sort((a, b) => a.Seq.CompareTo(b.Seq));
            }
            if (applied.Count == 0)
            {
                await RollbackQuietlyAsync(conn);
                return results;
            }
            var entries = new List<(string TrxId, HistoryEntry Entry)>();
            var events = new List<OutboxRow>();
            var answers = new List<StoredAnswer>();
            // In round order, so a payment's later change chains to its earlier one.
            foreach (var (index, row, amount) in applied)
            {
                var c = changes[index];
                if (!histories.TryGetValue(c.TrxId, out var history))
                {
                    histories[c.TrxId] = history = [];
                }
                var entry = HistoryChain.Next(c.TrxId, history.LastOrDefault(), c.Operation, amount, row.Snapshot.Status, now);
                history.Add(entry);
                entries.Add((c.TrxId, entry));
                var final = row.Snapshot with { History = [.. history] };
                events.Add(OutboxWriter.Row(c.EventType, c.MerchantId, now, row.Snapshot));
                results[index] = new Changed(final, Changes.Serialize(final));
                if (c.Claim is not null)
                {
                    answers.Add(new StoredAnswer(c.Claim, 200, results[index]!.Body, Changes.AnswerHeaders(final.Version), now));
                }
            }
            await using var commit = new NpgsqlBatch(conn);
            commit.BatchCommands.Add(HistoryChain.InsertSetCommand(entries));
            commit.BatchCommands.Add(OutboxWriter.SetCommand(events));
            if (answers.Count > 0)
            {
                commit.BatchCommands.Add(IdempotencyClaim.CompletionSetCommand(answers));
            }
            commit.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
            try
            {
                await commit.ExecuteNonQueryAsync();
            }
            catch (NpgsqlException e) when (e is not PostgresException { InvariantSeverity: "ERROR" })
            {
                // Not a statement's error (which aborts the transaction before its COMMIT runs): the connection broke or
                // the server ended the session, maybe after the commit. Its outcome decides, not a guess.
                if (!await CommittedAsync(xid, e))
                {
                    throw;
                }
            }
        }
        catch (Exception e) when (e is not GroupOutcomeUnknownException)
        {
            await RollbackQuietlyAsync(conn);
            throw;
        }
        foreach (var (index, _, _) in applied)
        {
            changes[index].Claim?.MarkCommitted();
        }
        return results;
    }

    /// <summary>
    /// The group's changes without If-Match (those are written alone), by round: round k holds the k-th change of each
    /// payment, in the order they came. Every round's payments are among the first round's, so no round locks a row the
    /// first did not.
    /// </summary>
    private static List<List<int>> Rounds(IReadOnlyList<CaptureChange> changes)
    {
        var rounds = new List<List<int>>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < changes.Count; i++)
        {
            if (changes[i].IfMatch is not null)
            {
                continue;
            }
            var k = seen.GetValueOrDefault(changes[i].TrxId);
            seen[changes[i].TrxId] = k + 1;
            if (k == rounds.Count)
            {
                rounds.Add([]);
            }
            rounds[k].Add(i);
        }
        return rounds;
    }

    /// <summary>One round's conditional statement: each change applied where the row's state and amount allow it.</summary>
    private static NpgsqlBatchCommand RoundCommand(IReadOnlyList<CaptureChange> changes, List<int> round, DateTimeOffset now)
    {
        var update = new NpgsqlBatchCommand($"""
            WITH req AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::bigint[])
                       WITH ORDINALITY AS r(trx_id, merchant_id, capture, amount, n)),
            cur AS (
                SELECT t.trx_id, t.order_amount - t.captured_amount - t.voided_amount AS remaining
                  FROM transactions.transactions t JOIN req r ON r.trx_id = t.trx_id AND r.merchant_id = t.merchant_id
                 ORDER BY t.trx_id FOR UPDATE OF t)
            UPDATE transactions.transactions t
               SET captured_amount = t.captured_amount + CASE WHEN r.capture THEN COALESCE(r.amount, cur.remaining) ELSE 0 END,
                   voided_amount = t.voided_amount + CASE WHEN r.capture THEN 0 ELSE COALESCE(r.amount, cur.remaining) END,
                   version = t.version + 1, updated_at = GREATEST($5, t.updated_at)
              FROM req r JOIN cur ON cur.trx_id = r.trx_id
             WHERE t.trx_id = r.trx_id AND t.type = 'PAYMENT' AND t.status = ANY($6)
               AND COALESCE(r.amount, cur.remaining) <= cur.remaining
            RETURNING {TransactionRows.Columns}, COALESCE(r.amount, cur.remaining), r.n
            """);
        update.Parameters.Add(new() { Value = round.Select(i => changes[i].TrxId).ToArray() });
        update.Parameters.Add(new() { Value = round.Select(i => changes[i].MerchantId).ToArray() });
        update.Parameters.Add(new() { Value = round.Select(i => changes[i].Capture).ToArray() });
        update.Parameters.Add(new() { Value = round.Select(i => changes[i].Amount).ToArray() });
        update.Parameters.Add(new() { Value = now });
        update.Parameters.Add(new() { Value = TransactionRows.OpenStatuses });
        return update;
    }

    private static async Task ReadRoundAsync(NpgsqlDataReader r, List<int> round, List<(int, TransactionRow, long)> applied)
    {
        while (await r.ReadAsync())
        {
            applied.Add((round[(int)r.GetInt64(TransactionRows.ColumnCount + 1) - 1], TransactionRows.Read(r),
                r.GetInt64(TransactionRows.ColumnCount)));
        }
    }

    /// <summary>Whether the transaction <paramref name="xid"/> committed, asked on a new connection until it has ended.</summary>
    internal async Task<bool> CommittedAsync(string xid, Exception lost)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                await using var cmd = db.CreateCommand("SELECT pg_xact_status($1::text::xid8)");
                cmd.Parameters.Add(new() { Value = xid });
                switch (await cmd.ExecuteScalarAsync() as string)
                {
                    case "committed":
                        return true;
                    case "aborted":
                        return false;
                }
                // "in progress": its backend has not yet seen the connection go.
            }
            catch (NpgsqlException)
            {
                // The database is out of reach for now: ask again.
            }
            await Task.Delay(200);
        }
        throw new GroupOutcomeUnknownException(lost);
    }

    private static async Task RollbackQuietlyAsync(NpgsqlConnection conn)
    {
        try
        {
            await using var rollback = new NpgsqlCommand("ROLLBACK", conn);
            await rollback.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // A broken connection: PostgreSQL ended the transaction with the session, and the pool drops the connection.
        }
    }

    /// <summary>Why a capture or void did not apply: unknown, changed since If-Match, wrong state, then amount.</summary>
    private static ProblemException Refusal(TransactionRow? current, IfMatchCondition? ifMatch, long? amount)
    {
        if (current is null)
        {
            return ProblemException.NotFound("The transaction");
        }
        var t = current.Snapshot;
        if (ifMatch is not null && !ifMatch.Matches(t.Version))
        {
            return new ProblemException(412, ErrorCodes.PreconditionFailed, "The transaction changed since the ETag given in If-Match.");
        }
        if (t.Type != TransactionTypes.Payment || !TransactionRows.OpenStatuses.Contains(t.Status))
        {
            return ProblemException.InvalidState($"A {t.Type} transaction in status {t.Status} has nothing remaining to capture or void.");
        }
        return new ProblemException(422, ErrorCodes.AmountExceedsRemaining,
            $"The amount {amount} is more than the {t.Remaining} remaining.");
    }
}
