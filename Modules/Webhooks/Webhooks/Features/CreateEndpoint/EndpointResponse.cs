using Payments.Webhooks.Data;

namespace Payments.Webhooks.Features.CreateEndpoint;

/// <summary>
/// A webhook endpoint as merchants see it. <c>secret</c> is the signing secret, shown only in the creation answer
/// (null everywhere else, a replayed creation included). <c>status</c> is <c>ENABLED</c> or <c>DISABLED</c>, then
/// with <c>disabled_reason</c>.
/// </summary>
internal sealed record EndpointResponse(
    string Id,
    string Url,
    IReadOnlyList<string> EnabledEvents,
    string Status,
    string? DisabledReason,
    string? Secret,
    DateTimeOffset CreatedAt)
{
    public static EndpointResponse From(EndpointRow row, string? secret) =>
        new(row.Id, row.Url, row.EnabledEvents, row.Status, row.DisabledReason, secret, row.CreatedAt);
}
