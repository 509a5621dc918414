using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Idempotency;
using Payments.Intents.Contracts;

namespace Payments.Intents.Data;

internal sealed record PaymentIntentResponse(
    string Id,
    string Status,
    long Amount,
    string Currency,
    string OrderId,
    string? ExternalId,
    string? CardToken,
    string? Description,
    IReadOnlyDictionary<string, string>? Metadata,
    string? TransactionId,
    string? LastDeclineCode,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

internal sealed class IntentStore(NpgsqlDataSource db) : IPaymentIntentReader
{
    private const string Columns = """
        id, status, amount, currency, order_id, external_id, card_token, description, metadata::text, transaction_id,
        last_decline_code, created_at, updated_at
        """;

    public static DateTimeOffset Micros(DateTimeOffset t) => new(t.UtcTicks - (t.UtcTicks % 10), TimeSpan.Zero);

    public async Task<byte[]> InsertAsync(string merchantId, PaymentIntentResponse intent, IdempotencyClaim? claim, DateTimeOffset now, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(intent, PaymentsJson.Options);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var batch = new NpgsqlBatch(conn, tx);
        var insert = new NpgsqlBatchCommand($"""
            INSERT INTO intents.payment_intents
                (id, merchant_id, status, amount, currency, order_id, external_id, card_token, description, metadata, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
            """);
        foreach (var v in new object?[]
                 {
                     intent.Id, merchantId, intent.Status, intent.Amount, intent.Currency, intent.OrderId, intent.ExternalId,
                     intent.CardToken, intent.Description,
                 })
        {
            insert.Parameters.Add(new() { Value = v ?? DBNull.Value });
        }
        insert.Parameters.Add(new()
        {
            Value = intent.Metadata is null ? DBNull.Value : JsonSerializer.Serialize(intent.Metadata),
            NpgsqlDbType = NpgsqlDbType.Jsonb,
        });
        insert.Parameters.Add(new() { Value = intent.CreatedAt });
        batch.BatchCommands.Add(insert);
        if (claim is not null)
        {
            batch.BatchCommands.Add(claim.CompletionCommand(201, body, new Dictionary<string, string> { ["Content-Type"] = "application/json" }, now));
        }
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        claim?.MarkCommitted();
        return body;
    }

    public async Task<PaymentIntentResponse?> GetAsync(string merchantId, string id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM intents.payment_intents WHERE id = $1 AND merchant_id = $2");
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = merchantId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>Cancels unless it succeeded or was canceled already; null when unknown, the current state otherwise.</summary>
    public async Task<(PaymentIntentResponse Intent, bool Canceled)?> CancelAsync(string merchantId, string id, DateTimeOffset now, CancellationToken ct)
    {
        await using (var cmd = db.CreateCommand($"""
            UPDATE intents.payment_intents SET status = 'CANCELED', updated_at = $3
             WHERE id = $1 AND merchant_id = $2 AND status IN ('REQUIRES_PAYMENT_METHOD', 'REQUIRES_CONFIRMATION')
            RETURNING {Columns}
            """))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = merchantId });
            cmd.Parameters.Add(new() { Value = now });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                return (Read(r), true);
            }
        }
        var current = await GetAsync(merchantId, id, ct);
        return current is null ? null : (current, false);
    }

    public async Task<PaymentIntentSnapshot?> FindAsync(string merchantId, string intentId, CancellationToken ct)
    {
        var i = await GetAsync(merchantId, intentId, ct);
        return i is null ? null : new PaymentIntentSnapshot(i.Id, i.Status, i.Amount, i.Currency, i.OrderId, i.ExternalId, i.CardToken);
    }

    private static PaymentIntentResponse Read(NpgsqlDataReader r)
    {
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        var metadata = S(8) is { } m ? JsonSerializer.Deserialize<Dictionary<string, string>>(m) : null;
        return new PaymentIntentResponse(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), S(5), S(6),
            S(7), metadata, S(9), S(10), r.GetFieldValue<DateTimeOffset>(11), r.GetFieldValue<DateTimeOffset>(12));
    }
}
