using FastEndpoints;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Ids;
using Payments.Intents.Data;

namespace Payments.Intents.Features.Get;

/// <summary><c>GET /v1/payment-intents/{id}</c>.</summary>
internal sealed class GetPaymentIntentEndpoint(ICurrentMerchant merchant, IntentStore store) : EndpointWithoutRequest<PaymentIntentResponse>
{
    public override void Configure() => Get("/v1/payment-intents/{id}");

    public override async Task HandleAsync(CancellationToken ct)
    {
        var id = Route<string>("id", isRequired: false);
        var intent = (PrefixedId.IsValid("pi", id) ? await store.GetAsync(merchant.Id, id!, ct) : null)
                     ?? throw ProblemException.NotFound("The payment intent");
        await Send.OkAsync(intent, ct);
    }
}
