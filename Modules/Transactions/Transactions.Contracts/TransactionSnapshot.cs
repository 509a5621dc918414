using System.Text.Json.Serialization;

namespace Payments.Transactions.Contracts;

/// <summary>
/// A transaction as the merchant API shows it (serialized snake_case it is the wire shape). Also the state
/// carried by every <see cref="TransactionEvent"/>.
/// </summary>
public sealed record TransactionSnapshot(
    string TrxId,
    string Type,
    string Status,
    long OrderAmount,
    string Currency,
    long CapturedAmount,
    long VoidedAmount,
    long SettledAmount,
    long RefundedAmount,
    long ChargedBackAmount,
    string OrderId,
    string? ExternalId,
    string? PaymentIntentId,
    string? ParentTrxId,
    CardSummary? Card,
    string? AuthorizationCode,
    string? DeclineCode,
    bool OverRecovered,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>The operations oldest first; present on single-transaction answers only.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<HistoryEntry>? History { get; init; }

    /// <summary>The row version: the strong <c>ETag</c> of the transaction.</summary>
    [JsonIgnore]
    public long Version { get; init; }

    /// <summary>The card token the payment was made with; given to <see cref="IRefundLedger"/> callers only, never shown.</summary>
    [JsonIgnore]
    public string? CardToken { get; init; }

    /// <summary>
    /// What refunds in flight hold of a payment (reserved, not yet booked); given to <see cref="IRefundLedger"/> callers
    /// only, never shown: a reservation changes nothing a reader sees until it is booked.
    /// </summary>
    [JsonIgnore]
    public long RefundReserved { get; init; }

    /// <summary>What remains to capture or void on a payment.</summary>
    [JsonIgnore]
    public long Remaining => OrderAmount - CapturedAmount - VoidedAmount;

    /// <summary>What may still be refunded on a payment.</summary>
    [JsonIgnore]
    public long Refundable => CapturedAmount - RefundedAmount - ChargedBackAmount;
}

/// <summary>What may be shown of the card.</summary>
public sealed record CardSummary(string? Brand, string? Last4);

/// <summary>One operation of a transaction's chained history.</summary>
/// <param name="PrevHash">The previous entry's hash (64 zeros for the first).</param>
/// <param name="Hash">Hex SHA-256 over the previous hash and this entry.</param>
public sealed record HistoryEntry(
    int Seq,
    string Operation,
    long Amount,
    string Status,
    DateTimeOffset At,
    string PrevHash,
    string Hash);

/// <summary>The <c>type</c> values.</summary>
public static class TransactionTypes
{
    public const string Payment = "PAYMENT";
    public const string Refund = "REFUND";
    public const string Chargeback = "CHARGEBACK";

    public static readonly IReadOnlyList<string> All = [Payment, Refund, Chargeback];
}

/// <summary>The <c>status</c> values.</summary>
public static class TransactionStatuses
{
    public const string Authorized = "AUTHORIZED";
    public const string Declined = "DECLINED";
    public const string Voided = "VOIDED";
    public const string Expired = "EXPIRED";
    public const string PartialCaptured = "PARTIAL_CAPTURED";
    public const string Captured = "CAPTURED";
    public const string PartialSettled = "PARTIAL_SETTLED";
    public const string Settled = "SETTLED";

    public static readonly IReadOnlyList<string> All =
        [Authorized, Declined, Voided, Expired, PartialCaptured, Captured, PartialSettled, Settled];
}
