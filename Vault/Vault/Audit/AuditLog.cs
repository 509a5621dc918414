using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Npgsql;
using Payments.Vault.Observability;

namespace Payments.Vault.Audit;

/// <summary>
/// The append-only audit trail, a keyed chain (<see cref="AuditChain"/>, docs/adr/0121). Writers serialize on a
/// transaction-scoped advisory lock so the chain has no forks. Details never hold card data: tokens, amounts, outcomes
/// and key ids only.
/// </summary>
/// <remarks>
/// Entries that belong to a larger change (a card stored, a key added) are written in the caller's transaction.
/// Everything else goes through the one group-commit writer (docs/adr/0122): it takes whatever has queued, runs each
/// caller's statements (an attempt reservation, an answer) and the audit rows they call for in one transaction, and
/// commits it durably, so the chain lock and the fsync are paid once per commit instead of once per entry. The caller
/// still waits for its commit: nothing it depends on is answered before its audit row is durable.
/// </remarks>
/// <remarks>
/// Every row written during a request also carries where it came from: <c>source</c> (the peer address),
/// <c>request_id</c> (the Host's, from the signed service token, never from a header), <c>vault_request_id</c>, and
/// <c>answer_request_id</c>, the <c>Request-Id</c> the answer carried.
/// </remarks>
internal sealed class AuditLog(
    TimeProvider clock,
    NpgsqlDataSource db,
    IAuditKey key,
    AuditAnchors anchors,
    ILogger<AuditLog> logger,
    IHttpContextAccessor? http = null) : IAsyncDisposable
{
    private const long ChainLock = 727274101;
    private const int MaxBatch = 512;

    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock startLock = new();
    private Task? writer;

    public async Task AppendAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string action, string? merchantId,
        string? subject, IReadOnlyDictionary<string, object?> detail, CancellationToken ct)
    {
        var head = await LockChainAsync(conn, tx, 1, ct);
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(head.Insert(Entry(action, merchantId, subject, detail), key));
        await batch.ExecuteNonQueryAsync(ct);
        anchors.Added(1);
    }

    /// <summary>One audited event on its own, committed (with whatever else queued) before this returns.</summary>
    public Task AppendAsync(string action, string? merchantId, string? subject, IReadOnlyDictionary<string, object?> detail) =>
        CommitAsync([], Entry(action, merchantId, subject, detail));

    /// <summary>
    /// <paramref name="statements"/> and then <paramref name="entry"/> (if <paramref name="when"/> holds for the rows
    /// each statement affected), in the group commit; returns the rows each statement affected once it is durable.
    /// A statement that fails fails this call only: the commit it was grouped in is retried without it.
    /// </summary>
    public Task<int[]> CommitAsync(IReadOnlyList<NpgsqlBatchCommand> statements, AuditEntry? entry, Func<int[], bool>? when = null)
    {
        EnsureWriter();
        var pending = new Pending(statements, entry, when,
            new TaskCompletionSource<int[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        ObjectDisposedException.ThrowIf(!queue.Writer.TryWrite(pending), this);
        // Bounded: a card use is never left waiting on a writer that cannot reach the database.
        return pending.Done.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>An entry stamped now, with the origin of the request being served (if any).</summary>
    public AuditEntry Entry(string action, string? merchantId, string? subject, IReadOnlyDictionary<string, object?> detail)
    {
        var now = clock.GetUtcNow();
        var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero); // PostgreSQL keeps microseconds
        return new AuditEntry(at, action, merchantId, subject, JsonSerializer.Serialize(WithOrigin(detail)));
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        if (writer is not null)
        {
            try
            {
                await writer.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                logger.LogWarning("The audit writer did not finish within 10 s of shutdown");
            }
        }
    }

    private void EnsureWriter()
    {
        if (writer is null)
        {
            lock (startLock)
            {
                // Not in the trace of the card use that happened to start it: each commit has its own span.
                using (ExecutionContext.SuppressFlow())
                {
                    writer ??= Task.Run(WriteLoopAsync);
                }
            }
        }
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        while (await queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var p))
            {
                batch.Add(p);
            }
            try
            {
                await CommitGroupAsync(batch);
            }
#pragma warning disable CA1031 // the single writer must outlive any failure, or every later card use would wait
            catch (Exception e)
#pragma warning restore CA1031
            {
                if (batch.Count == 1)
                {
                    FailAll(batch, e);
                    continue;
                }
                // Nothing of the group committed. One caller's statement may be the cause: each goes again alone.
                foreach (var p in batch)
                {
                    try
                    {
                        await CommitGroupAsync([p]);
                    }
#pragma warning disable CA1031
                    catch (Exception alone)
#pragma warning restore CA1031
                    {
                        FailAll([p], alone);
                    }
                }
            }
        }
    }

    private void FailAll(List<Pending> batch, Exception e)
    {
        logger.LogError("Audit entries could not be written: {Error}", e.GetType().Name);
        batch.ForEach(p => p.Done.TrySetException(e));
    }

    private async Task CommitGroupAsync(List<Pending> pending)
    {
        using var span = VaultTelemetry.StartGroupCommit(pending.Select(p => p.Caller));
        var started = Stopwatch.GetTimestamp();
        await using var conn = await db.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var head = await LockChainAsync(conn, tx, pending.Count(p => p.Entry is not null), CancellationToken.None);
        var affected = new int[pending.Count][];
        if (pending.Any(p => p.Statements.Count > 0))
        {
            await using var statements = new NpgsqlBatch(conn, tx);
            foreach (var p in pending)
            {
                foreach (var s in p.Statements)
                {
                    statements.BatchCommands.Add(s);
                }
            }
            await statements.ExecuteNonQueryAsync();
        }
        await using var inserts = new NpgsqlBatch(conn, tx);
        for (var i = 0; i < pending.Count; i++)
        {
            var p = pending[i];
            affected[i] = [.. p.Statements.Select(s => s.RecordsAffected)];
            if (p.Entry is not null && (p.When is null || p.When(affected[i])))
            {
                inserts.BatchCommands.Add(head.Insert(p.Entry, key));
            }
        }
        if (inserts.BatchCommands.Count > 0)
        {
            await inserts.ExecuteNonQueryAsync();
        }
        await tx.CommitAsync();
        anchors.Added(inserts.BatchCommands.Count);
        VaultTelemetry.GroupCommitted(pending.Count, Stopwatch.GetElapsedTime(started));
        for (var i = 0; i < pending.Count; i++)
        {
            pending[i].Done.TrySetResult(affected[i]);
        }
    }

    /// <summary>
    /// Takes the chain lock for the transaction; returns the chain's head and <paramref name="rows"/> sequence numbers,
    /// taken under the lock so the chain's order is the order of seq.
    /// </summary>
    private static async Task<ChainHead> LockChainAsync(NpgsqlConnection conn, NpgsqlTransaction tx, int rows, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(conn, tx)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand($"SELECT pg_advisory_xact_lock({ChainLock})"),
                new NpgsqlBatchCommand("SELECT coalesce(mac, hash), n FROM vault.audit_log ORDER BY seq DESC LIMIT 1"),
                new NpgsqlBatchCommand("SELECT array(SELECT nextval('vault.audit_log_seq_seq') FROM generate_series(1, $1))")
                {
                    Parameters = { new() { Value = rows } },
                },
            },
        };
        byte[] link = AuditChain.Genesis;
        long? n = 0;
        long[] seqs;
        await using (var r = await batch.ExecuteReaderAsync(ct))
        {
            await r.NextResultAsync(ct);
            if (await r.ReadAsync(ct))
            {
                link = (byte[])r[0];
                n = r.IsDBNull(1) ? null : r.GetInt64(1);
            }
            await r.NextResultAsync(ct);
            await r.ReadAsync(ct);
            seqs = r.GetFieldValue<long[]>(0);
        }
        if (n is null)
        {
            // The head is a legacy row: the first keyed row's position counts the legacy rows before it.
            await using var count = new NpgsqlCommand("SELECT count(*) FROM vault.audit_log", conn, tx);
            n = (long)(await count.ExecuteScalarAsync(ct))!;
        }
        return new ChainHead(link, n.Value, seqs);
    }

    private IReadOnlyDictionary<string, object?> WithOrigin(IReadOnlyDictionary<string, object?> detail)
    {
        if (http?.HttpContext is not { } context)
        {
            return detail;
        }
        var merged = new Dictionary<string, object?>(detail);
        merged.TryAdd("source", context.Connection.RemoteIpAddress?.ToString());
        merged.TryAdd("request_id", AuditOrigin.HostRequestId(context));
        merged.TryAdd("vault_request_id", context.TraceIdentifier);
        // The id the answer carries (the Host's, or the card page's own): the one a cardholder or merchant can quote.
        merged.TryAdd("answer_request_id", VaultResponseHeaders.AnswerIdOf(context));
        return merged;
    }

    /// <summary>The chain's head as the lock holder sees it; hands out the next rows in order.</summary>
    private sealed class ChainHead(byte[] link, long n, long[] seqs)
    {
        private int used;

        public NpgsqlBatchCommand Insert(AuditEntry e, IAuditKey auditKey)
        {
            var (version, key) = auditKey.Current;
            var seq = seqs[used++];
            n++;
            var mac = AuditChain.Mac(key, link, seq, n, version, e);
            var command = new NpgsqlBatchCommand("""
                INSERT INTO vault.audit_log (seq, at, action, merchant_id, subject, detail, prev_hash, n, key_version, mac)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                """);
            foreach (var value in new object?[] { seq, e.At, e.Action, e.MerchantId, e.Subject, e.DetailJson, link, n, version, mac })
            {
                command.Parameters.Add(new() { Value = value ?? DBNull.Value });
            }
            link = mac;
            return command;
        }
    }

    private sealed record Pending(IReadOnlyList<NpgsqlBatchCommand> Statements, AuditEntry? Entry, Func<int[], bool>? When,
        TaskCompletionSource<int[]> Done)
    {
        /// <summary>The card use waiting on this entry: the group commit's span links to it.</summary>
        public ActivityContext Caller { get; } = Activity.Current?.Context ?? default;
    }
}
