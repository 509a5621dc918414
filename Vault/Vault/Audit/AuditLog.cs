using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Payments.Vault.Audit;

/// <summary>
/// The append-only audit trail. Each row is written in the caller's transaction and chained to the previous one:
/// hash = SHA-256(prev_hash ‖ canonical row). Writers serialize on a transaction-scoped advisory lock so the chain
/// has no forks. Details never hold card data: tokens, amounts, outcomes and key ids only.
/// </summary>
internal sealed class AuditLog(TimeProvider clock)
{
    private const long ChainLock = 727274101;
    private static readonly byte[] Genesis = new byte[32];

    public async Task AppendAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string action, string? merchantId,
        string? subject, IReadOnlyDictionary<string, object?> detail, CancellationToken ct)
    {
        await using (var lockCmd = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({ChainLock})", conn, tx))
        {
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        byte[] prev;
        await using (var last = new NpgsqlCommand("SELECT hash FROM vault.audit_log ORDER BY seq DESC LIMIT 1", conn, tx))
        {
            prev = await last.ExecuteScalarAsync(ct) as byte[] ?? Genesis;
        }
        var now = clock.GetUtcNow();
        var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero); // PostgreSQL keeps microseconds
        var detailJson = JsonSerializer.Serialize(detail);
        var hash = Hash(prev, at, action, merchantId, subject, detailJson);
        await using var insert = new NpgsqlCommand(
            "INSERT INTO vault.audit_log (at, action, merchant_id, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            conn, tx);
        insert.Parameters.Add(new() { Value = at });
        insert.Parameters.Add(new() { Value = action });
        insert.Parameters.Add(new() { Value = (object?)merchantId ?? DBNull.Value });
        insert.Parameters.Add(new() { Value = (object?)subject ?? DBNull.Value });
        insert.Parameters.Add(new() { Value = detailJson });
        insert.Parameters.Add(new() { Value = prev });
        insert.Parameters.Add(new() { Value = hash });
        await insert.ExecuteNonQueryAsync(ct);
    }

    /// <summary>One audited write in its own transaction.</summary>
    public async Task AppendAsync(NpgsqlDataSource db, string action, string? merchantId, string? subject,
        IReadOnlyDictionary<string, object?> detail, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await AppendAsync(conn, tx, action, merchantId, subject, detail, ct);
        await tx.CommitAsync(ct);
    }

    public static async Task<AuditVerification> VerifyAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT seq, at, action, merchant_id, subject, detail, prev_hash, hash FROM vault.audit_log ORDER BY seq");
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var prev = Genesis;
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
                return new AuditVerification(false, rows, seq);
            }
            prev = stored;
        }
        return new AuditVerification(true, rows, null);
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
