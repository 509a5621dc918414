namespace Payments.Tokenization.Features.CreateIntent;

/// <summary>
/// The client secret and the card-entry URL are shown here only, and in this answer's Idempotency-Key replays (sealed,
/// <c>AnswerSeal</c>); null only in the copy stored without them.
/// </summary>
internal sealed record CreateTokenizationIntentResponse(
    string Id,
    string Status,
    string? ClientSecret,
    string? CardEntryUrl,
    DateTimeOffset ExpiresAt,
    string? ReturnUrl,
    Dictionary<string, string> Metadata,
    DateTimeOffset CreatedAt);
