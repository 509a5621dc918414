using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;

namespace Payments.Client.Tests.EndToEnd;

/// <summary>The Host and the Vault on real loopback ports, so programs in other languages can reach them.</summary>
public sealed class LiveGatewayFixture : GatewayFixture
{
    protected override bool UseKestrel => true;

    public PaymentsClient ClientFor(MerchantCredentials keys, string? secret = null) => new(new PaymentsClientOptions
    {
        BaseAddress = Host.BaseAddress,
        ClientId = keys.ClientId,
        ClientSecret = secret ?? keys.ClientSecret,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
    });

    /// <summary>True once the refunds slice is part of the Host (it lands separately from the rest).</summary>
    public bool HasRefundsRoute() =>
        HostServices.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Any(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("v1/transactions/", StringComparison.Ordinal) == true
                      && e.RoutePattern.RawText.EndsWith("/refunds", StringComparison.Ordinal)
                      && e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.Contains("POST") == true);

    /// <summary>A card token for <paramref name="number"/>, through a tokenization intent and the Vault.</summary>
    public async Task<string> TokenizeAsync(PaymentsClient client, string number = "4242424242424242")
    {
        var intent = await client.CreateTokenizationIntentAsync();
        await client.SubmitCardAsync(Vault.BaseAddress, intent.Id, intent.ClientSecret!,
            new CardInput { Number = number, ExpMonth = 12, ExpYear = DateTime.UtcNow.Year + 2, Cvc = "123", HolderName = "Test Holder" });
        var done = await client.GetTokenizationIntentAsync(intent.Id);
        Assert.Equal(TokenizationIntentStatus.Succeeded, done.Status);
        return done.CardToken!;
    }
}

[CollectionDefinition(Name)]
public sealed class LiveGatewayCollection : ICollectionFixture<LiveGatewayFixture>
{
    public const string Name = "live gateway";
}
