using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Ids;
using Payments.Webhooks.Data;

namespace Payments.Webhooks.Features.DeleteEndpoint;

/// <summary><c>DELETE /v1/webhook-endpoints/{id}</c>: 204; nothing more is sent to it. Unknown or another merchant's: 404.</summary>
internal sealed class DeleteEndpointEndpoint(ICurrentMerchant merchant, WebhookStore store) : EndpointWithoutRequest
{
    public override void Configure()
    {
        Delete("/v1/webhook-endpoints/{id}");
        Description(b => b.Produces(204).ProducesProblem(404));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        var id = Route<string>("id", isRequired: false);
        if (!PrefixedId.IsValid("we", id) || !await store.DeleteEndpointAsync(merchant.Id, id!, ct))
        {
            throw ProblemException.NotFound("The webhook endpoint");
        }
        await Send.NoContentAsync(ct);
    }
}
