using Payments.TestKit;

namespace Payments.IntegrationTests.Webhooks;

public sealed class WebhookTokenizationTests(RealVaultWebhooksFixture gateway) : IClassFixture<RealVaultWebhooksFixture>
{
    [Fact]
    public async Task A_tokenization_success_reaches_the_endpoint()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Diagnostics = () => gateway.DescribeAsync();
        var m = await gateway.CreateMerchantClientAsync();
        var secret = (await m.CreateEndpointAsync(receiver.Url("/cards"), "tokenization_intent.succeeded"))
            .GetProperty("secret").GetString()!;

        var token = await gateway.TokenizeCardAsync(m);

        var got = (await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/cards").Count >= 1)).Single(d => d.Path == "/cards");
        Assert.Equal("tokenization_intent.succeeded", got.Type);
        Assert.Equal(token, got.Json.GetProperty("data").GetProperty("card_token").GetString());
        Assert.Equal("SUCCEEDED", got.Json.GetProperty("data").GetProperty("status").GetString());
        Assert.True(WebhookApi.Verify(secret, got.Signature!, got.Body, TimeSpan.FromMinutes(5)));
        Assert.DoesNotContain("4242424242424242", got.Body, StringComparison.Ordinal);
    }
}
