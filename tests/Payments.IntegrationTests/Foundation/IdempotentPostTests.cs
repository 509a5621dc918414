using System.Net;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Foundation;

/// <summary>
/// Every POST takes an <c>Idempotency-Key</c>, the ones that only change a state (cancel, settle, expire, redeliver)
/// too: a client whose answer was lost retries with the key and gets that answer, not a 409 for its own success.
/// </summary>
public sealed class IdempotentPostTests(GatewayFixture gateway) : IClassFixture<GatewayFixture>
{
    [Fact]
    public async Task A_retried_cancel_gets_its_first_answer_again()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (created, intent, _) = await PostAsync(merchant.Http, "/v1/payment-intents",
            new { amount = 500, currency = "EUR", order_id = "cancel-" + Guid.NewGuid().ToString("N")[..8] });
        Assert.Equal(HttpStatusCode.Created, created);
        var key = Guid.NewGuid().ToString("N");

        var first = await PostAsync(merchant.Http, $"/v1/payment-intents/{Str(intent, "id")}/cancel", null, key);
        var retry = await PostAsync(merchant.Http, $"/v1/payment-intents/{Str(intent, "id")}/cancel", null, key);
        var unkeyed = await PostAsync(merchant.Http, $"/v1/payment-intents/{Str(intent, "id")}/cancel", null);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.OK, retry.Status);
        Assert.Equal("true", Assert.Single(retry.Response.Headers.GetValues("Idempotent-Replayed")));
        Assert.Equal(first.Body!.ToJsonString(), retry.Body!.ToJsonString());
        Assert.Equal(HttpStatusCode.Conflict, unkeyed.Status); // without the key it is a second cancel
    }

    [Fact]
    public async Task A_retried_settlement_answers_the_same_settlement()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var key = Guid.NewGuid().ToString("N");

        var first = await PostAsync(merchant.Http, "/v1/sandbox/settle", null, key);
        var retry = await PostAsync(merchant.Http, "/v1/sandbox/settle", null, key);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(Str(first.Body, "settlement_id"), Str(retry.Body, "settlement_id"));
        Assert.Equal("true", Assert.Single(retry.Response.Headers.GetValues("Idempotent-Replayed")));
    }
}
