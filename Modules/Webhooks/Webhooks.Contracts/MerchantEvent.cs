namespace Payments.Webhooks.Contracts;

/// <summary>
/// An event for a merchant's webhooks from a module that does not publish its own contract event (e.g. Tokenization's
/// <c>tokenization_intent.succeeded</c>). Publish it through Wolverine from the producer's outbox, in the same
/// database transaction as the change; the Webhooks module records it once per <see cref="EventId"/> and gives it
/// the merchant's next <c>sequence</c>.
/// </summary>
/// <param name="EventId">Unique and stable across redeliveries (<c>evt_…</c>).</param>
/// <param name="Type">One of <see cref="WebhookEventTypes"/>.</param>
/// <param name="MerchantId">The merchant the object belongs to.</param>
/// <param name="OccurredAt">When the change committed.</param>
/// <param name="DataJson">The object's state as the merchant API shows it: a JSON object, snake_case.</param>
public sealed record MerchantEvent(string EventId, string Type, string MerchantId, DateTimeOffset OccurredAt, string DataJson);

/// <summary>The event types a webhook endpoint may ask for in <c>enabled_events</c> (besides <c>*</c>).</summary>
public static class WebhookEventTypes
{
    public const string TokenizationIntentSucceeded = "tokenization_intent.succeeded";

    public static readonly IReadOnlyList<string> All =
    [
        "transaction.authorized",
        "transaction.declined",
        "transaction.captured",
        "transaction.voided",
        "transaction.expired",
        "transaction.settled",
        "transaction.refunded",
        "transaction.charged_back",
        "refund.created",
        "chargeback.created",
        TokenizationIntentSucceeded,
        "tokenization_intent.expired",
        "tokenization_intent.failed",
    ];
}
