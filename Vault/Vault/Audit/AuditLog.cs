using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Npgsql;
using Payments.Vault.Observability;

namespace Payments.Vault.Audit;

/// <summary>
/// The append-only audit trail. Each row is chained to the previous one: hash = SHA-256(prev_hash ‖ canonical row).
/// Writers serialize on a transaction-scoped advisory lock so the chain has no forks. Details never hold card data:
/// tokens, amounts, outcomes and key ids only.
/// </summary>
/// <remarks>
/// Entries that belong to a larger change (a card stored, a key added) are written in the caller's transaction.
/// Entries that stand alone (every authorization, refund and refusal) go through a group commit: one writer appends
/// whatever has queued in one transaction, so the chain lock is taken once per commit instead of once per entry —
/// held across the fsync, a per-entry lock capped every Vault at one authorization per disk flush. The caller still
/// waits for its entry's commit: no card use is answered before its audit row is durable.
/// </remarks>
/// <remarks>
/// Every row written during a request also carries where it came from: <c>source</c> (the peer address),
/// <c>request_id</c> (the Host's, from the signed service token, never from a header) and <c>vault_request_id</c>.
/// </remarks>
internal sealed class AuditLog(TimeProvider clock, NpgsqlDataSource db, ILogger<AuditLog> logger, IHttpContextAccessor? http = null)
    : IAsyncDisposable
{
    private const long ChainLock = 727274101;
    private const int MaxBatch = 512;
    private static readonly byte[] Genesis = new byte[32];

    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock startLock = new();
    private Task? writer;

    public async Task AppendAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string action, string? merchantId,
        string? subject, IReadOnlyDictionary<string, object?> detail, CancellationToken ct)
    {
        var prev = await LockChainAsync(conn, tx, ct);
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(InsertCommand(NewEntry(action, merchantId, subject, detail), prev));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>One audited event on its own, committed (with whatever else queued) before this returns.</summary>
    public Task AppendAsync(string action, string? merchantId, string? subject, IReadOnlyDictionary<string, object?> detail)
    {
        EnsureWriter();
        var pending = new Pending(NewEntry(action, merchantId, subject, detail),
            new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        ObjectDisposedException.ThrowIf(!queue.Writer.TryWrite(pending), this);
        // Bounded: a card use is never left waiting on a writer that cannot reach the database.
        return pending.Done.Task.WaitAsync(TimeSpan.FromSeconds(30));
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
                using var span = VaultTelemetry.StartGroupCommit(batch.Select(p => p.Caller));
                var started = Stopwatch.GetTimestamp();
                await WriteBatchAsync(batch);
                VaultTelemetry.GroupCommitted(batch.Count, Stopwatch.GetElapsedTime(started));
                batch.ForEach(p => p.Done.TrySetResult());
            }
#pragma warning disable CA1031 // the single writer must outlive any failure, or every later card use would wait
            catch (Exception e)
#pragma warning restore CA1031
            {
                // Nothing of the batch committed: every caller fails (its card use is not answered as done).
                logger.LogError("Audit entries could not be written: {Error}", e.GetType().Name);
                batch.ForEach(p => p.Done.TrySetException(e));
            }
        }
    }

    private async Task WriteBatchAsync(List<Pending> pending)
    {
        await using var conn = await db.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var prev = await LockChainAsync(conn, tx, CancellationToken.None);
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var p in pending)
        {
            var command = InsertCommand(p.Entry, prev);
            prev = (byte[])command.Parameters[^1].Value!;
            batch.BatchCommands.Add(command);
        }
        await batch.ExecuteNonQueryAsync();
        await tx.CommitAsync();
    }

    /// <summary>Takes the chain lock for the transaction and returns the hash the next row chains to.</summary>
    private static async Task<byte[]> LockChainAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using (var lockCmd = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({ChainLock})", conn, tx))
        {
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        await using var last = new NpgsqlCommand("SELECT hash FROM vault.audit_log ORDER BY seq DESC LIMIT 1", conn, tx);
        return await last.ExecuteScalarAsync(ct) as byte[] ?? Genesis;
    }

    private AuditEntry NewEntry(string action, string? merchantId, string? subject, IReadOnlyDictionary<string, object?> detail)
    {
        var now = clock.GetUtcNow();
        var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero); // PostgreSQL keeps microseconds
        return new AuditEntry(at, action, merchantId, subject, JsonSerializer.Serialize(WithOrigin(detail)));
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
        return merged;
    }

    /// <summary>The INSERT of one row chained to <paramref name="prev"/>; its last parameter is the row's hash.</summary>
    private static NpgsqlBatchCommand InsertCommand(AuditEntry e, byte[] prev)
    {
        var command = new NpgsqlBatchCommand(
            "INSERT INTO vault.audit_log (at, action, merchant_id, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        command.Parameters.Add(new() { Value = e.At });
        command.Parameters.Add(new() { Value = e.Action });
        command.Parameters.Add(new() { Value = (object?)e.MerchantId ?? DBNull.Value });
        command.Parameters.Add(new() { Value = (object?)e.Subject ?? DBNull.Value });
        command.Parameters.Add(new() { Value = e.DetailJson });
        command.Parameters.Add(new() { Value = prev });
        command.Parameters.Add(new() { Value = Hash(prev, e.At, e.Action, e.MerchantId, e.Subject, e.DetailJson) });
        return command;
    }

    private sealed record Pending(AuditEntry Entry, TaskCompletionSource Done)
    {
        /// <summary>The card use waiting on this entry: the group commit's span links to it.</summary>
        public ActivityContext Caller { get; } = Activity.Current?.Context ?? default;
    }

    public static async Task<AuditVerification> VerifyAsync(NpgsqlDataSource db, CancellationToken ct) =>
        (await VerifyFromAsync(db, null, ct)).Result;

    /// <summary>
    /// Verifies the rows after <paramref name="from"/> (a point an earlier verification reached; null: the whole
    /// chain), so a process can re-check its chain often for the cost of the rows added since.
    /// </summary>
    public static async Task<(AuditVerification Result, AuditCheckpoint Reached)> VerifyFromAsync(
        NpgsqlDataSource db, AuditCheckpoint? from, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT seq, at, action, merchant_id, subject, detail, prev_hash, hash FROM vault.audit_log WHERE seq > $1 ORDER BY seq");
        cmd.Parameters.Add(new() { Value = from?.Seq ?? long.MinValue });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var prev = from?.Hash ?? Genesis;
        var lastSeq = from?.Seq ?? long.MinValue;
        long rows = 0;
        while (await reader.ReadAsync(ct))
        {
            rows++;
            var seq = reader.GetInt64(0);
            var at = new DateTimeOffset(reader.GetDateTime(1), TimeSpan.Zero);
            var storedPrev = (byte[])reader[6];
            var stored = (byte[])reader[7];
            var expected = Hash(prev, at, reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5));
            if (!storedPrev.AsSpan().SequenceEqual(prev) || !stored.AsSpan().SequenceEqual(expected))
            {
                return (new AuditVerification(false, rows, seq), new AuditCheckpoint(lastSeq, prev));
            }
            prev = stored;
            lastSeq = seq;
        }
        return (new AuditVerification(true, rows, null), new AuditCheckpoint(lastSeq, prev));
    }

    private static byte[] Hash(byte[] prev, DateTimeOffset at, string action, string? merchantId, string? subject, string detailJson)
    {
        // Length-prefixed fields: no two different rows share a canonical form.
        var sb = new StringBuilder();
        foreach (var field in new[] { (at.UtcTicks / 10).ToString(System.Globalization.CultureInfo.InvariantCulture), action, merchantId ?? "\0", subject ?? "\0", detailJson })
        {
            sb.Append(field.Length).Append(':').Append(field).Append(';');
        }
        var body = Encoding.UTF8.GetBytes(sb.ToString());
        var input = new byte[prev.Length + body.Length];
        prev.CopyTo(input, 0);
        body.CopyTo(input, prev.Length);
        return SHA256.HashData(input);
    }
}

internal sealed record AuditVerification(bool Valid, long Rows, long? FirstBrokenSeq);

/// <summary>The last row a verification checked and its hash: where the next one carries on.</summary>
internal sealed record AuditCheckpoint(long Seq, byte[] Hash);

internal sealed record AuditEntry(DateTimeOffset At, string Action, string? MerchantId, string? Subject, string DetailJson);
