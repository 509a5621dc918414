using System.Net.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;

namespace Payments.Client.Tests.EndToEnd;

/// <summary>The Host and the Vault on real loopback ports, so programs in other languages can reach them.</summary>
public sealed class LiveGatewayFixture : GatewayFixture
{
    private readonly Lazy<Task<MerchantCredentials>> rateLimited;

    public LiveGatewayFixture() => rateLimited = new(LockOutAsync);

    protected override bool UseKestrel => true;

    /// <summary>
    /// A merchant whose token route answers 429 (more than 10 wrong secrets), made once per run: the failures also
    /// count against the loopback address (100 limit the whole run), so tests share this one.
    /// </summary>
    public Task<MerchantCredentials> RateLimitedMerchantAsync() => rateLimited.Value;

    private async Task<MerchantCredentials> LockOutAsync()
    {
        var keys = await this.CreateMerchantAsync("rate-limited");
        using var http = new HttpClient { BaseAddress = Host.BaseAddress };
        for (var attempt = 0; attempt < 15; attempt++)
        {
            using var answer = await http.PostAsJsonAsync("v1/auth/token", new { client_id = keys.ClientId, client_secret = "wrong-secret" });
            if ((int)answer.StatusCode == 429)
            {
                return keys;
            }
        }
        throw new InvalidOperationException("The token route never answered 429 after 15 wrong secrets.");
    }

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
