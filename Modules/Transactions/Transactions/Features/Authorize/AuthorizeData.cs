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

/// <summary>
/// Everything a new payment writes, computed before it is written: the row, its history, its events and the answer
/// stored for its key. The same for a payment written alone or in a group.
/// </summary>
internal sealed record PaymentInsert(
    NewPayment Payment,
    long Captured,
    DateTimeOffset ExpiresAt,
    DateTimeOffset Now,
    TransactionSnapshot Final,
    IReadOnlyList<OutboxRow> Events,
    byte[] Body,
    IdempotencyClaim? Claim)
{
    public StoredAnswer? Answer => Claim is null ? null : new StoredAnswer(Claim, 201, Body, Changes.AnswerHeaders(Final.Version), Now);
}

/// <summary>The authorize slice's SQL: the checks before the acquirer is called, and the payment's insert.</summary>
internal sealed class AuthorizeData(NpgsqlDataSource db, TimeProvider clock, IOptions<TransactionsOptions> options, PaymentWriter writer,
    PendingCreations creations)
    : IPaymentIntentPayments
{
    public TimeProvider Clock => clock;

    /// <summary>
    /// Whether a payment other than one of <paramref name="intentId"/>'s holds the external_id: an intent confirmed
    /// again after a decline gives its next payment the same one (transactions_external_id_owner holds the rule).
    /// </summary>
    public async Task<bool> ExternalIdTakenAsync(string merchantId, string externalId, string? intentId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT 1 FROM transactions.transactions
             WHERE merchant_id = $1 AND external_id = $2 AND type = 'PAYMENT'
               AND ($3::text IS NULL OR payment_intent_id IS DISTINCT FROM $3)
            """);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = externalId });
        cmd.Parameters.Add(new() { Value = (object?)intentId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
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
    /// Writes the payment, its history, its events and the stored answer in one transaction, grouped with other
    /// requests' payments by <see cref="PaymentWriter"/>; returns once that transaction committed.
    /// </summary>
    public async Task<Changed> InsertPaymentAsync(NewPayment p, IdempotencyClaim? claim)
    {
        using var creation = creations.Stamp(p.MerchantId);
        return await writer.WriteAsync(Prepare(p, claim, creation.At));
    }

    /// <summary>What <paramref name="p"/> will write, with <paramref name="now"/> as its creation time.</summary>
    internal PaymentInsert Prepare(NewPayment p, IdempotencyClaim? claim, DateTimeOffset now)
    {
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
        var stateless = final with { History = null };
        List<OutboxRow> events = declined
            ? [OutboxWriter.Row(TransactionEventTypes.Declined, p.MerchantId, now, stateless)]
            : [OutboxWriter.Row(TransactionEventTypes.Authorized, p.MerchantId, now, authorized)];
        if (captured > 0)
        {
            events.Add(OutboxWriter.Row(TransactionEventTypes.Captured, p.MerchantId, now, stateless));
        }
        // A repeated acquirer answer (ADR 25) keeps the window it was given.
        var expiresAt = (p.AuthorizedAt ?? now) + options.Value.AuthorizationWindow;
        return new PaymentInsert(p, captured, expiresAt, now, final, events, Changes.Serialize(final), claim);
    }
}

/// <summary>The statements that write new payments: one payment's, or a group's set-based.</summary>
internal static class PaymentStatements
{
    private const string Columns = """
        trx_id, merchant_id, type, order_amount, currency, captured_amount, order_id, external_id, payment_intent_id,
        card_token, card_brand, card_last4, authorization_code, decline_code, authorization_expires_at, created_at, updated_at
        """;

    /// <summary>One payment's batch: one implicit transaction, committed when its last statement (the stored answer,
    /// which fails the whole batch if the claim was taken over) succeeds.</summary>
    public static IEnumerable<NpgsqlBatchCommand> One(PaymentInsert i)
    {
        var p = i.Payment;
        var insert = new NpgsqlBatchCommand($"""
            INSERT INTO transactions.transactions ({Columns})
            VALUES ($1, $2, 'PAYMENT', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
            """);
        foreach (var v in new object?[]
                 {
                     p.TrxId, p.MerchantId, p.Amount, p.Currency, i.Captured, p.OrderId, p.ExternalId, p.PaymentIntentId,
                     p.CardToken, p.Brand, p.Last4, i.Final.AuthorizationCode, i.Final.DeclineCode, i.ExpiresAt, i.Now,
                 })
        {
            insert.Parameters.Add(new() { Value = v ?? DBNull.Value });
        }
        yield return insert;
        foreach (var h in i.Final.History!)
        {
            yield return HistoryChain.InsertCommand(p.TrxId, h);
        }
        foreach (var e in i.Events)
        {
            yield return OutboxWriter.Command(e);
        }
        if (i.Answer is { } answer)
        {
            yield return answer.Claim.CompletionCommand(answer.Status, answer.Body, answer.Headers, answer.At);
        }
    }

    /// <summary>
    /// A group's batch: a statement per table over all its payments (per-statement work, the list counters' statement
    /// triggers included, paid once), one implicit transaction; any payment's refusal fails all of it.
    /// </summary>
    public static IEnumerable<NpgsqlBatchCommand> Group(IReadOnlyList<PaymentInsert> group)
    {
        var insert = new NpgsqlBatchCommand($"""
            INSERT INTO transactions.transactions ({Columns})
            SELECT t.trx_id, t.merchant_id, 'PAYMENT', t.order_amount, t.currency, t.captured_amount, t.order_id, t.external_id,
                   t.payment_intent_id, t.card_token, t.card_brand, t.card_last4, t.authorization_code, t.decline_code,
                   t.authorization_expires_at, t.created_at, t.created_at
              FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                          $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::timestamptz[])
                   AS t(trx_id, merchant_id, order_amount, currency, captured_amount, order_id, external_id, payment_intent_id,
                        card_token, card_brand, card_last4, authorization_code, decline_code, authorization_expires_at, created_at)
            """);
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.TrxId).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.MerchantId).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.Amount).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.Currency).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Captured).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.OrderId).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.ExternalId).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.PaymentIntentId).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.CardToken).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.Brand).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Payment.Last4).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Final.AuthorizationCode).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Final.DeclineCode).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.ExpiresAt).ToArray() });
        insert.Parameters.Add(new() { Value = group.Select(i => i.Now).ToArray() });
        yield return insert;
        yield return HistoryChain.InsertSetCommand([.. group.SelectMany(i => i.Final.History!.Select(h => (i.Payment.TrxId, h)))]);
        yield return OutboxWriter.SetCommand([.. group.SelectMany(i => i.Events)]);
        if (group.Select(i => i.Answer).OfType<StoredAnswer>().ToList() is { Count: > 0 } answers)
        {
            yield return IdempotencyClaim.CompletionSetCommand(answers);
        }
    }

    /// <summary>The problem a payment's own refusal maps to, or null for any other failure.</summary>
    public static ProblemException? Refusal(PostgresException e) => (e.SqlState, e.ConstraintName) switch
    {
        (PostgresErrorCodes.ExclusionViolation, "transactions_external_id_owner") => new ProblemException(409,
            ErrorCodes.DuplicateExternalId, "A payment with this external_id already exists."),
        (PostgresErrorCodes.UniqueViolation, "transactions_live_intent") => ProblemException.InvalidState("The payment intent was already used."),
        _ => null,
    };
}
