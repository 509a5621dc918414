using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.Vault.Contracts;

namespace Payments.Tokenization.Features.DeleteCardToken;

/// <summary><c>DELETE /v1/card-tokens/{tok}</c>: the Vault destroys the card data; the token is unknown from then on.</summary>
internal sealed class DeleteCardTokenEndpoint(ICurrentMerchant merchant, IVaultClient vault) : EndpointWithoutRequest
{
    public override void Configure()
    {
        Delete("/v1/card-tokens/{token}");
        Description(b => b.Produces(204).ProducesProblem(401).ProducesProblem(404).ProducesProblem(503));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        var token = Route<string>("token", isRequired: false);
        if (!Payments.BuildingBlocks.Ids.PrefixedId.IsValid("tok", token) || !await vault.DeleteCardAsync(merchant.Id, token!, ct))
        {
            throw ProblemException.NotFound("The card token");
        }
        await Send.NoContentAsync(ct);
    }
}
