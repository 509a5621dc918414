using FastEndpoints;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Ids;
using Payments.Intents.Data;

namespace Payments.Intents.Features.Cancel;

/// <summary><c>POST /v1/payment-intents/{id}/cancel</c>: 200 <c>CANCELED</c>; a succeeded or canceled intent is 409 <c>invalid_state</c>.</summary>
internal sealed class CancelPaymentIntentEndpoint(ICurrentMerchant merchant, IntentStore store, TimeProvider clock)
    : EndpointWithoutRequest<PaymentIntentResponse>
{
    public override void Configure() => Post("/v1/payment-intents/{id}/cancel");

    public override async Task HandleAsync(CancellationToken ct)
    {
        var id = Route<string>("id", isRequired: false);
        var result = (PrefixedId.IsValid("pi", id) ? await store.CancelAsync(merchant.Id, id!, IntentStore.Micros(clock.GetUtcNow()), ct) : null)
                     ?? throw ProblemException.NotFound("The payment intent");
        if (!result.Canceled)
        {
            throw ProblemException.InvalidState($"The payment intent is {result.Intent.Status} and cannot be canceled.");
        }
        await Send.OkAsync(result.Intent, ct);
    }
}
