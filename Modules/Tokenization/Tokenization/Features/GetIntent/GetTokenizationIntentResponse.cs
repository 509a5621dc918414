using Payments.Tokenization.Data;

namespace Payments.Tokenization.Features.GetIntent;

internal sealed record GetTokenizationIntentResponse(
    string Id,
    string Status,
    string? CardToken,
    CardView? Card,
    string? ReturnUrl,
    Dictionary<string, string> Metadata,
    DateTimeOffset ExpiresAt,
    DateTimeOffset CreatedAt)
{
    public static GetTokenizationIntentResponse Of(IntentRecord r) =>
        new(r.Id, r.Status, r.CardToken, r.Card, r.ReturnUrl, r.Metadata, r.ExpiresAt, r.CreatedAt);
}
