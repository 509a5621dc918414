using FastEndpoints;
using Payments.Auth.Contracts;
using Payments.Webhooks.Data;
using Payments.Webhooks.Features.CreateEndpoint;

namespace Payments.Webhooks.Features.ListEndpoints;

/// <summary><c>GET /v1/webhook-endpoints</c>: the merchant's endpoints, oldest first, without secrets.</summary>
internal sealed class ListEndpointsEndpoint(ICurrentMerchant merchant, WebhookStore store)
    : EndpointWithoutRequest<ListEndpointsResponse>
{
    public override void Configure() => Get("/v1/webhook-endpoints");

    public override async Task HandleAsync(CancellationToken ct)
    {
        var rows = await store.ListEndpointsAsync(merchant.Id, ct);
        await Send.OkAsync(new ListEndpointsResponse([.. rows.Select(r => EndpointResponse.From(r, null))]), ct);
    }
}

internal sealed record ListEndpointsResponse(IReadOnlyList<EndpointResponse> Data);
