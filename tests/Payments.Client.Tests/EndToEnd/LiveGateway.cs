using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Commands;
using Payments.TestKit;

namespace Payments.Client.Tests.EndToEnd;

/// <summary>The Host and the Vault on real loopback ports, so programs in other languages can reach them.</summary>
public sealed class LiveGatewayFixture : GatewayFixture
{
    protected override bool UseKestrel => true;

    /// <summary>Fresh merchant credentials, made the way the guide tells an operator to (<c>merchant create</c>).</summary>
    public async Task<MerchantKeys> CreateMerchantAsync(string name)
    {
        var command = HostServices.GetServices<IHostCommand>().FirstOrDefault(c => c.Verb == "merchant")
            ?? throw new InvalidOperationException("The Host has no 'merchant' operator command.");
        using var stdout = new StringWriter();
        var exit = await command.RunAsync(["create", "--name", name], stdout, CancellationToken.None);
        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(stdout.ToString());
        var root = json.RootElement;
        return new MerchantKeys(root.GetProperty("merchant_id").GetString()!, root.GetProperty("client_id").GetString()!,
            root.GetProperty("client_secret").GetString()!);
    }

    public PaymentsClient ClientFor(MerchantKeys keys, string? secret = null) => new(new PaymentsClientOptions
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

public sealed record MerchantKeys(string MerchantId, string ClientId, string ClientSecret);

[CollectionDefinition(Name)]
public sealed class LiveGatewayCollection : ICollectionFixture<LiveGatewayFixture>
{
    public const string Name = "live gateway";
}
