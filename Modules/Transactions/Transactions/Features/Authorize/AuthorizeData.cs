using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.Authorize;

/// <summary>A new payment's facts, as the acquirer answered.</summary>
internal sealed record NewPayment(
    string TrxId,
    string MerchantId,
    long Amount,
    string Currency,
    string OrderId,
    string? ExternalId,
    string? PaymentIntentId,
    string CardToken,
    bool Capture,
    bool Approved,
    string? AuthorizationCode,
    string? DeclineCode,
    string? Brand,
    string? Last4,
    DateTimeOffset? AuthorizedAt = null);

/// <summary>The authorize slice's SQL: the checks before the acquirer is called, and the payment's one-batch insert.</summary>
internal sealed class AuthorizeData(NpgsqlDataSource db, TimeProvider clock, IOptions<TransactionsOptions> options) : IPaymentIntentPayments
{
    public TimeProvider Clock => clock;

    public async Task<bool> ExternalIdTakenAsync(string merchantId, string externalId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT 1 FROM transactions.transactions WHERE merchant_id = $1 AND external_id = $2 AND type = 'PAYMENT'");
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = externalId });
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    public Task<bool> HasLivePaymentAsync(string merchantId, string intentId, CancellationToken ct) =>
        IntentHasLivePaymentAsync(merchantId, intentId, ct);

    public async Task<bool> IntentHasLivePaymentAsync(string merchantId, string intentId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT 1 FROM transactions.transactions
             WHERE merchant_id = $1 AND payment_intent_id = $2 AND type = 'PAYMENT' AND decline_code IS NULL
            """);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = intentId });
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>
    /// The payment, its history, its events and the stored answer in one batch: one implicit transaction, committed
    /// when its last statement (the stored answer, which fails the whole batch if the claim was taken over) succeeds.
    /// </summary>
    public async Task<Changed> InsertPaymentAsync(NewPayment p, IdempotencyClaim? claim, CancellationToken ct)
    {
        var now = clock.UtcNowMicros();
        var declined = !p.Approved;
        var captured = p.Approved && p.Capture ? p.Amount : 0;
        var authorized = new TransactionSnapshot(p.TrxId, TransactionTypes.Payment,
            declined ? TransactionStatuses.Declined : TransactionStatuses.Authorized, p.Amount, p.Currency, 0, 0, 0, 0, 0,
            p.OrderId, p.ExternalId, p.PaymentIntentId, null,
            p.Brand is null && p.Last4 is null ? null : new CardSummary(p.Brand, p.Last4),
            declined ? null : p.AuthorizationCode, declined ? p.DeclineCode ?? "declined" : null, false, now, now)
        { Version = 1 };
        var history = new List<HistoryEntry> { HistoryChain.Next(p.TrxId, null, "AUTHORIZE", p.Amount, authorized.Status, now) };
        var final = authorized;
        if (captured > 0)
        {
            final = authorized with { Status = TransactionStatuses.Captured, CapturedAmount = captured };
            history.Add(HistoryChain.Next(p.TrxId, history[0], "CAPTURE", captured, final.Status, now));
        }
        final = final with { History = history };

        await using var batch = db.CreateBatch();
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO transactions.transactions
                (trx_id, merchant_id, type, order_amount, currency, captured_amount, order_id, external_id, payment_intent_id,
                 card_token, card_brand, card_last4, authorization_code, decline_code, authorization_expires_at, created_at, updated_at)
            VALUES ($1, $2, 'PAYMENT', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
            """);
        foreach (var v in new object?[]
                 {
                     p.TrxId, p.MerchantId, p.Amount, p.Currency, captured, p.OrderId, p.ExternalId, p.PaymentIntentId,
                     p.CardToken, p.Brand, p.Last4, final.AuthorizationCode, final.DeclineCode,
                     // A repeated acquirer answer (ADR 25) keeps the window it was given.
                     (p.AuthorizedAt ?? now) + options.Value.AuthorizationWindow, now,
                 })
        {
            insert.Parameters.Add(new() { Value = v ?? DBNull.Value });
        }
        batch.BatchCommands.Add(insert);
        foreach (var h in history)
        {
            batch.BatchCommands.Add(HistoryChain.InsertCommand(p.TrxId, h));
        }
        var stateless = final with { History = null };
        if (declined)
        {
            batch.BatchCommands.Add(OutboxWriter.Command(TransactionEventTypes.Declined, p.MerchantId, now, stateless));
        }
        else
        {
            batch.BatchCommands.Add(OutboxWriter.Command(TransactionEventTypes.Authorized, p.MerchantId, now, authorized));
            if (captured > 0)
            {
                batch.BatchCommands.Add(OutboxWriter.Command(TransactionEventTypes.Captured, p.MerchantId, now, stateless));
            }
        }
        var body = Changes.Serialize(final);
        Changes.AddCompletion(batch, claim, 201, body, final.Version, now);
        try
        {
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw e.ConstraintName switch
            {
                "transactions_external_id" => new ProblemException(409, ErrorCodes.DuplicateExternalId,
                    "A payment with this external_id already exists."),
                "transactions_live_intent" => ProblemException.InvalidState("The payment intent was already used."),
                _ => e,
            };
        }
        claim?.MarkCommitted();
        return new Changed(final, body);
    }
}
