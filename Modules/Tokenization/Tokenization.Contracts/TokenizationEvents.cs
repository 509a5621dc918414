namespace Payments.Tokenization.Contracts;

/// <summary>
/// The recorded status transitions of tokenization intents, for the webhooks module: read them in order
/// after the last <see cref="TokenizationIntentEvent.Sequence"/> it has delivered.
/// </summary>
public interface ITokenizationEvents
{
    Task<IReadOnlyList<TokenizationIntentEvent>> ReadAfterAsync(long afterSequence, int limit, CancellationToken ct);
}

/// <param name="Type"><c>tokenization_intent.succeeded</c>, <c>tokenization_intent.expired</c> or <c>tokenization_intent.failed</c>.</param>
/// <param name="DataJson">The intent as <c>GET /v1/tokenization-intents/{id}</c> showed it at the transition (snake_case JSON).</param>
public sealed record TokenizationIntentEvent(
    long Sequence,
    string IntentId,
    string MerchantId,
    string Type,
    DateTimeOffset OccurredAt,
    string DataJson);
