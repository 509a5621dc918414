using System.Text.Json;
using System.Text.Json.Serialization;

namespace Payments.Client;

/// <summary>What the HTTP answer said besides its body.</summary>
public sealed class ResponseInfo
{
    /// <summary>The gateway's <c>Request-Id</c>.</summary>
    public string? RequestId { get; init; }

    /// <summary>True when the gateway replayed the first answer to this idempotency key (<c>Idempotent-Replayed: true</c>).</summary>
    public bool IdempotentReplayed { get; init; }

    /// <summary>The object's <c>ETag</c> (transactions), for <see cref="RequestOptions.IfMatch"/>.</summary>
    public string? ETag { get; init; }

    /// <summary>The <c>Idempotency-Key</c> the call carried, if any.</summary>
    public string? IdempotencyKey { get; init; }
}

/// <summary>An object the gateway returned, with the answer's metadata.</summary>
public abstract class ApiObject
{
    /// <summary>Request id, replay flag, ETag and idempotency key of the answer that carried this object.</summary>
    [JsonIgnore]
    public ResponseInfo? Response { get; internal set; }
}

/// <summary>The answer of <c>POST /v1/auth/token</c>.</summary>
public sealed class AccessToken : ApiObject
{
    [JsonPropertyName("access_token")]
    public required string Value { get; init; }
    public string TokenType { get; init; } = "Bearer";
    public int ExpiresIn { get; init; }
}

/// <summary>Brand and last digits of a card; the full number never leaves the Vault.</summary>
public sealed class CardSummary
{
    public string? Brand { get; init; }
    public string? Last4 { get; init; }
    public int? ExpMonth { get; init; }
    public int? ExpYear { get; init; }
    /// <summary>Equal for the same card within one merchant.</summary>
    public string? Fingerprint { get; init; }
}

/// <summary>Statuses of a tokenization intent.</summary>
public static class TokenizationIntentStatus
{
    public const string RequiresCard = "REQUIRES_CARD";
    public const string Succeeded = "SUCCEEDED";
    public const string Expired = "EXPIRED";
    public const string Failed = "FAILED";
}

/// <summary><c>POST /v1/tokenization-intents</c>.</summary>
public sealed class CreateTokenizationIntentRequest
{
    public string? ReturnUrl { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>A tokenization intent: the cardholder (or a PCI-scoped server) gives the card to the Vault against it.</summary>
public sealed class TokenizationIntent : ApiObject
{
    public required string Id { get; init; }
    public required string Status { get; init; }
    /// <summary>Authorizes the card submission to the Vault; give it to the card-entry page only.</summary>
    public string? ClientSecret { get; init; }
    /// <summary>The Vault's card-entry page for the cardholder's browser.</summary>
    public string? CardEntryUrl { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public string? ReturnUrl { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    /// <summary>The reusable card token (<c>tok_…</c>) once <see cref="TokenizationIntentStatus.Succeeded"/>.</summary>
    public string? CardToken { get; init; }
    public CardSummary? Card { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>
/// Card data for <c>PaymentsClient.SubmitCardAsync</c>, sent to the Vault only. Only a PCI DSS–assessed
/// server may hold this; everyone else lets the cardholder use the card-entry page. ToString never shows the
/// number or the CVC.
/// </summary>
public sealed class CardInput
{
    public required string Number { get; init; }
    public required int ExpMonth { get; init; }
    public required int ExpYear { get; init; }
    public required string Cvc { get; init; }
    public string? HolderName { get; init; }

    public override string ToString() =>
        $"card ••••{(Number.Length >= 4 ? Number[^4..] : "")} {ExpMonth:00}/{ExpYear}";
}

/// <summary>Statuses of a payment intent.</summary>
public static class PaymentIntentStatus
{
    public const string RequiresPaymentMethod = "REQUIRES_PAYMENT_METHOD";
    public const string RequiresConfirmation = "REQUIRES_CONFIRMATION";
    public const string Succeeded = "SUCCEEDED";
    public const string Canceled = "CANCELED";
}

/// <summary><c>POST /v1/payment-intents</c>.</summary>
public sealed class CreatePaymentIntentRequest
{
    public required long Amount { get; init; }
    public required string Currency { get; init; }
    public required string OrderId { get; init; }
    public string? ExternalId { get; init; }
    public string? CardToken { get; init; }
    public string? Description { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
}

/// <summary>A payment intent: what the merchant means to charge, confirmed by a transaction.</summary>
public sealed class PaymentIntent : ApiObject
{
    public required string Id { get; init; }
    public required string Status { get; init; }
    public long Amount { get; init; }
    public required string Currency { get; init; }
    public string? OrderId { get; init; }
    public string? ExternalId { get; init; }
    public string? CardToken { get; init; }
    public string? Description { get; init; }
    public Dictionary<string, string>? Metadata { get; init; }
    public string? TransactionId { get; init; }
    public string? LastDeclineCode { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>The <c>operation</c> values of the transaction routes.</summary>
public static class TransactionOperation
{
    public const string Authorize = "authorize";
    public const string Authcap = "authcap";
    public const string Capture = "capture";
    public const string Void = "void";
}

/// <summary>Transaction types.</summary>
public static class TransactionType
{
    public const string Payment = "PAYMENT";
    public const string Refund = "REFUND";
    public const string Chargeback = "CHARGEBACK";
}

/// <summary>Transaction statuses.</summary>
public static class TransactionStatus
{
    public const string Authorized = "AUTHORIZED";
    public const string Declined = "DECLINED";
    public const string Voided = "VOIDED";
    public const string Expired = "EXPIRED";
    public const string PartialCaptured = "PARTIAL_CAPTURED";
    public const string Captured = "CAPTURED";
    public const string PartialSettled = "PARTIAL_SETTLED";
    public const string Settled = "SETTLED";
}

/// <summary>
/// <c>POST /v1/transactions</c>: either confirm a payment intent (<see cref="ForIntent"/>) or charge a card token
/// directly (<see cref="ForCard"/>).
/// </summary>
public sealed class CreateTransactionRequest
{
    public required string Operation { get; init; }
    public string? PaymentIntentId { get; init; }
    public long? Amount { get; init; }
    public string? Currency { get; init; }
    public string? CardToken { get; init; }
    public string? OrderId { get; init; }
    public string? ExternalId { get; init; }

    /// <summary>Confirms <paramref name="paymentIntentId"/>; <paramref name="cardToken"/> adds a card to an intent without one.</summary>
    public static CreateTransactionRequest ForIntent(string operation, string paymentIntentId, string? cardToken = null) =>
        new() { Operation = operation, PaymentIntentId = paymentIntentId, CardToken = cardToken };

    /// <summary>Charges a card token without an intent.</summary>
    public static CreateTransactionRequest ForCard(string operation, long amount, string currency, string cardToken, string orderId, string? externalId = null) =>
        new() { Operation = operation, Amount = amount, Currency = currency, CardToken = cardToken, OrderId = orderId, ExternalId = externalId };
}

/// <summary>One entry of a transaction's tamper-evident history.</summary>
public sealed class HistoryEntry
{
    public int Seq { get; init; }
    public required string Operation { get; init; }
    public long Amount { get; init; }
    public string? Status { get; init; }
    public DateTimeOffset At { get; init; }
    public string? PrevHash { get; init; }
    public string? Hash { get; init; }
}

/// <summary>A payment, refund or chargeback.</summary>
public sealed class Transaction : ApiObject
{
    public required string TrxId { get; init; }
    public required string Type { get; init; }
    public required string Status { get; init; }
    public long OrderAmount { get; init; }
    public required string Currency { get; init; }
    public long CapturedAmount { get; init; }
    public long VoidedAmount { get; init; }
    public long SettledAmount { get; init; }
    public long RefundedAmount { get; init; }
    public long ChargedBackAmount { get; init; }
    public string? OrderId { get; init; }
    public string? ExternalId { get; init; }
    public string? PaymentIntentId { get; init; }
    public string? ParentTrxId { get; init; }
    public CardSummary? Card { get; init; }
    public string? AuthorizationCode { get; init; }
    public string? DeclineCode { get; init; }
    /// <summary>Chargebacks and refunds together exceed what was captured: contest the chargeback.</summary>
    public bool? OverRecovered { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Present on the single-transaction routes.</summary>
    public List<HistoryEntry>? History { get; init; }

    /// <summary>
    /// What can still be captured or voided: <c>order_amount − captured_amount − voided_amount</c> for a payment,
    /// 0 for a <see cref="TransactionStatus.Declined"/> one (nothing was authorized) and for a refund or a
    /// chargeback (their <c>order_amount</c> is their own amount, which is never captured or voided).
    /// </summary>
    [JsonIgnore]
    public long Remaining => Type != TransactionType.Payment || Status == TransactionStatus.Declined
        ? 0
        : Math.Max(OrderAmount - CapturedAmount - VoidedAmount, 0);

    /// <summary><c>captured_amount − refunded_amount − charged_back_amount</c>: what can still be refunded.</summary>
    [JsonIgnore]
    public long Refundable => CapturedAmount - RefundedAmount - ChargedBackAmount;
}

/// <summary><c>POST /v1/transactions/{trx_id}/refunds</c>.</summary>
public sealed class CreateRefundRequest
{
    /// <summary>Null refunds all that is still refundable.</summary>
    public long? Amount { get; init; }
    public string? Reason { get; init; }
}

/// <summary>Which field <see cref="PaymentsClient.LookupTransactionAsync"/> searches.</summary>
public enum LookupIdType
{
    ExternalId,
    OrderId,
}

/// <summary>The query of <c>GET /v1/transactions</c>.</summary>
public sealed class ListTransactionsRequest
{
    /// <summary>From this day's 00:00:00 UTC, inclusive.</summary>
    public required DateOnly StartDate { get; init; }
    /// <summary>Up to this day's 00:00:00 UTC, inclusive (so the day itself is outside).</summary>
    public required DateOnly EndDate { get; init; }
    public int? Offset { get; init; }
    /// <summary>10 to 100; the gateway clamps other values.</summary>
    public int? Limit { get; init; }
    /// <summary><c>type</c>, <c>status</c>, <c>order_amount</c>, <c>created_at</c> or <c>updated_at</c> (default).</summary>
    public string? SortBy { get; init; }
    /// <summary><c>ASC</c> (default) or <c>DESC</c>.</summary>
    public string? SortDirection { get; init; }
    public string? Type { get; init; }
    public string? Status { get; init; }
    /// <summary>The first page's <see cref="TransactionPage.AsOf"/>: leaves out rows created after it.</summary>
    public string? AsOf { get; init; }
}

/// <summary>One page of <c>GET /v1/transactions</c>.</summary>
public sealed class TransactionPage : ApiObject
{
    public List<Transaction> Data { get; init; } = [];
    public int Offset { get; init; }
    public int Limit { get; init; }
    public long Total { get; init; }
    public bool HasMore { get; init; }
    /// <summary>Pass back as <see cref="ListTransactionsRequest.AsOf"/> for stable paging; kept verbatim.</summary>
    public string? AsOf { get; init; }
}

/// <summary>The answer of <c>GET /v1/transactions/{trx_id}/history/verify</c>.</summary>
public sealed class HistoryVerification : ApiObject
{
    public required string TrxId { get; init; }
    public bool Valid { get; init; }
    public int Entries { get; init; }
    public int? FirstBrokenSeq { get; init; }
}

/// <summary>The answer of <c>POST /v1/sandbox/expire-authorizations</c>.</summary>
public sealed class ExpireAuthorizationsResult : ApiObject
{
    public int Expired { get; init; }
}

/// <summary>The answer of <c>POST /v1/sandbox/settle</c>.</summary>
public sealed class SettlementResult : ApiObject
{
    public string? SettlementId { get; init; }
    public int Settled { get; init; }
}

/// <summary><c>POST /v1/sandbox/chargebacks</c>.</summary>
public sealed class CreateChargebackRequest
{
    public required string TrxId { get; init; }
    public required long Amount { get; init; }
    public required string ReasonCode { get; init; }
}

/// <summary><c>POST /v1/webhook-endpoints</c>.</summary>
public sealed class CreateWebhookEndpointRequest
{
    public required string Url { get; init; }
    /// <summary><c>["*"]</c> or event types such as <c>transaction.captured</c>.</summary>
    public required List<string> EnabledEvents { get; init; }
}

/// <summary>A webhook endpoint; <see cref="Secret"/> is shown only when it is created.</summary>
public sealed class WebhookEndpoint : ApiObject
{
    public required string Id { get; init; }
    public required string Url { get; init; }
    public List<string> EnabledEvents { get; init; } = [];
    public string? Status { get; init; }
    public string? Secret { get; init; }
}

/// <summary>An event, as delivered to webhooks and listed by <c>GET /v1/events</c>.</summary>
public sealed class WebhookEvent
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public long Sequence { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public JsonElement Data { get; init; }
}

/// <summary>One page of <c>GET /v1/events</c>.</summary>
public sealed class EventPage : ApiObject
{
    /// <summary>Oldest first.</summary>
    public List<WebhookEvent> Data { get; init; } = [];
    /// <summary>True when more events follow the last one: ask again after its <see cref="WebhookEvent.Sequence"/>.</summary>
    public bool HasMore { get; init; }
}

/// <summary>The answer of <c>POST /v1/events/{id}/redeliver</c> (202).</summary>
public sealed class Redelivery : ApiObject
{
    public required string EventId { get; init; }
    /// <summary>How many deliveries were queued: one per enabled endpoint that takes the event's type.</summary>
    public int Deliveries { get; init; }
}
