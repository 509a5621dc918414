using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.Tokenization.Data;
using Payments.Vault.Contracts;

namespace Payments.Tokenization.Features.GetIntent;

/// <summary>
/// <c>GET /v1/tokenization-intents/{id}</c>. Past <c>expires_at</c> it reads <c>EXPIRED</c> at once; while it still
/// requires a card it asks the Vault, and records a success or failure it learns of (the feed sync does the same in
/// the background), so the answer is never behind the Vault.
/// </summary>
internal sealed class GetTokenizationIntentEndpoint(ICurrentMerchant merchant, IntentStore intents, IVaultClient vault, TimeProvider clock)
    : EndpointWithoutRequest<GetTokenizationIntentResponse>
{
    public override void Configure()
    {
        Get("/v1/tokenization-intents/{id}");
        Description(b => b.Produces<GetTokenizationIntentResponse>(200).ProducesProblem(401).ProducesProblem(404).ProducesProblem(503));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        var id = Route<string>("id", isRequired: false) ?? "";
        var intent = await intents.FindAsync(merchant.Id, id, ct) ?? throw ProblemException.NotFound("The tokenization intent");
        if (intent.Status == "REQUIRES_CARD")
        {
            if (intent.ExpiresAt <= clock.GetUtcNow())
            {
                await intents.TransitionAsync(merchant.Id, id, "EXPIRED", null, null, ct);
            }
            else if (await vault.GetTokenizationIntentAsync(merchant.Id, id, ct) is { Status: "SUCCEEDED" or "FAILED" } state)
            {
                await intents.TransitionAsync(merchant.Id, id, state.Status, state.CardToken, state.Card, ct);
            }
            intent = await intents.FindAsync(merchant.Id, id, ct) ?? intent;
            if (intent.Status == "REQUIRES_CARD" && intent.ExpiresAt <= clock.GetUtcNow())
            {
                intent = intent with { Status = "EXPIRED" };
            }
        }
        await Send.OkAsync(GetTokenizationIntentResponse.Of(intent), ct);
    }
}
