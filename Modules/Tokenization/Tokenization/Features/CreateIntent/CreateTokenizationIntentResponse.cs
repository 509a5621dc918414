namespace Payments.Tokenization.Features.CreateIntent;

/// <summary>The client secret and the card-entry URL are shown here only (null in an Idempotency-Key replay).</summary>
internal sealed record CreateTokenizationIntentResponse(
    string Id,
    string Status,
    string? ClientSecret,
    string? CardEntryUrl,
    DateTimeOffset ExpiresAt,
    string? ReturnUrl,
    Dictionary<string, string> Metadata,
    DateTimeOffset CreatedAt);
