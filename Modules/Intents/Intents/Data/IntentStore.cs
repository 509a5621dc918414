using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Data;
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

internal sealed class IntentStore(NpgsqlDataSource db, TimeProvider clock, ILogger<IntentStore> logger) : IPaymentIntentConfirmations
{
    private const string Columns = """
        id, status, amount, currency, order_id, external_id, card_token, description, metadata::text, transaction_id,
        last_decline_code, created_at, updated_at
        """;

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

    /// <summary>
    /// Marks the intent with <paramref name="markId"/> (a confirmation's transaction id, or a cancel's own id) unless it
    /// succeeded, was canceled, or another mark holds. One statement: concurrent marks wait for each other's row lock,
    /// and the later one sees the earlier one's mark.
    /// </summary>
    public async Task<IntentConfirmation> StartAsync(string merchantId, string intentId, string markId, string? cardToken, TimeSpan lease,
        CancellationToken ct)
    {
        await using (var mark = db.CreateCommand("""
            UPDATE intents.payment_intents
               SET confirming_id = $3, confirming_card_token = coalesce($4, card_token), confirming_until = now() + $5
             WHERE id = $1 AND merchant_id = $2 AND status IN ('REQUIRES_PAYMENT_METHOD', 'REQUIRES_CONFIRMATION')
               AND (confirming_until IS NULL OR confirming_until <= now())
            RETURNING id, status, amount, currency, order_id, external_id, card_token
            """))
        {
            mark.Parameters.Add(new() { Value = intentId });
            mark.Parameters.Add(new() { Value = merchantId });
            mark.Parameters.Add(new() { Value = markId });
            mark.Parameters.Add(new() { Value = (object?)cardToken ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            mark.Parameters.Add(new() { Value = lease });
            await using var r = await mark.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                return new(IntentConfirmationStart.Started, new PaymentIntentSnapshot(r.GetString(0), r.GetString(1), r.GetInt64(2),
                    r.GetString(3), r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6)));
            }
        }
        var current = await GetAsync(merchantId, intentId, ct);
        return current is null
            ? new(IntentConfirmationStart.NotFound, null)
            : new(current.Status is PaymentIntentStatuses.Succeeded or PaymentIntentStatuses.Canceled ? IntentConfirmationStart.Final : IntentConfirmationStart.Busy,
                new PaymentIntentSnapshot(current.Id, current.Status, current.Amount, current.Currency, current.OrderId, current.ExternalId, current.CardToken));
    }

    public async Task FinishAsync(string merchantId, string intentId, string markId, ConfirmedPayment? booked, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        if (booked is not null)
        {
            batch.BatchCommands.Add(OutcomeCommand(merchantId, intentId, booked, clock.UtcNowMicros()));
        }
        // Also after an outcome: a mark the outcome's conditions left (a late or out-of-order answer) still ends here.
        var release = new NpgsqlBatchCommand("""
            UPDATE intents.payment_intents SET confirming_id = NULL, confirming_card_token = NULL, confirming_until = NULL
             WHERE id = $1 AND merchant_id = $2 AND confirming_id = $3
            """);
        release.Parameters.Add(new() { Value = intentId });
        release.Parameters.Add(new() { Value = merchantId });
        release.Parameters.Add(new() { Value = markId });
        batch.BatchCommands.Add(release);
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            logger.LogWarning("A payment intent's mark was not ended; it lapses with its lease: {Error}", e.GetType().Name);
        }
    }

    /// <summary>Cancels the intent if <paramref name="markId"/> still marks it; null when the mark was lost (it lapsed).</summary>
    public async Task<PaymentIntentResponse?> CancelMarkedAsync(string merchantId, string id, string markId, DateTimeOffset now, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"""
            UPDATE intents.payment_intents
               SET status = 'CANCELED', updated_at = $4, confirming_id = NULL, confirming_card_token = NULL, confirming_until = NULL
             WHERE id = $1 AND merchant_id = $2 AND confirming_id = $3
            RETURNING {Columns}
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = markId });
        cmd.Parameters.Add(new() { Value = now });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>
    /// The conditional UPDATE a payment's outcome makes to its intent, from the confirming request or from the event
    /// (whichever comes first; the other changes nothing). A success is final and shows the card the confirmation
    /// brought; a decline applies only to an intent still waiting and not to one a newer payment already answered. Only
    /// the payment's own mark is cleared: a late event must not end a newer confirmation's.
    /// </summary>
    internal static NpgsqlBatchCommand OutcomeCommand(string merchantId, string intentId, ConfirmedPayment payment, DateTimeOffset now)
    {
        var cmd = new NpgsqlBatchCommand(payment.Declined
            ? """
              UPDATE intents.payment_intents
                 SET status = 'REQUIRES_PAYMENT_METHOD', card_token = NULL, last_decline_code = $4, transaction_id = $3, updated_at = $5,
                     confirming_id = CASE WHEN confirming_id = $3 THEN NULL ELSE confirming_id END,
                     confirming_card_token = CASE WHEN confirming_id = $3 THEN NULL ELSE confirming_card_token END,
                     confirming_until = CASE WHEN confirming_id = $3 THEN NULL ELSE confirming_until END
               WHERE id = $1 AND merchant_id = $2 AND status IN ('REQUIRES_PAYMENT_METHOD', 'REQUIRES_CONFIRMATION')
                 AND (transaction_id IS NULL OR transaction_id < $3)
              """
            : """
              UPDATE intents.payment_intents
                 SET status = 'SUCCEEDED', transaction_id = $3, last_decline_code = NULL, updated_at = $5,
                     card_token = CASE WHEN confirming_id = $3 THEN coalesce(confirming_card_token, card_token) ELSE card_token END,
                     confirming_id = NULL, confirming_card_token = NULL, confirming_until = NULL
               WHERE id = $1 AND merchant_id = $2 AND status <> 'SUCCEEDED'
              """);
        cmd.Parameters.Add(new() { Value = intentId });
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = payment.TrxId });
        cmd.Parameters.Add(new() { Value = (object?)payment.DeclineCode ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = now });
        return cmd;
    }

    private static PaymentIntentResponse Read(NpgsqlDataReader r)
    {
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        var metadata = S(8) is { } m ? JsonSerializer.Deserialize<Dictionary<string, string>>(m) : null;
        return new PaymentIntentResponse(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), S(5), S(6),
            S(7), metadata, S(9), S(10), r.GetFieldValue<DateTimeOffset>(11), r.GetFieldValue<DateTimeOffset>(12));
    }
}
