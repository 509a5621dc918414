using System.Buffers.Text;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Commands;
using Payments.TestKit;

namespace Payments.IntegrationTests.Auth;

public sealed class RotationTests(AuthFixture gateway) : IClassFixture<AuthFixture>, IDisposable
{
    public void Dispose() => gateway.Clock.Reset();

    private async Task<JsonElement> RunAsync(string verb, params string[] args)
    {
        var command = gateway.HostServices.GetServices<IHostCommand>().Single(c => c.Verb == verb);
        using var stdout = new StringWriter();
        Assert.Equal(0, await command.RunAsync(args, stdout, CancellationToken.None));
        using var doc = JsonDocument.Parse(stdout.ToString());
        return doc.RootElement.Clone();
    }

    private static string KidOf(string token)
    {
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[0]));
        return header.RootElement.GetProperty("kid").GetString()!;
    }

    private async Task<string[]> PublishedKidsAsync()
    {
        using var http = gateway.CreateClient();
        using var jwks = JsonDocument.Parse(await http.GetStringAsync("/.well-known/jwks.json"));
        return jwks.RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!).ToArray();
    }

    [Fact]
    public async Task Key_rotation_signs_with_the_new_key_and_keeps_old_tokens_valid()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var oldKid = KidOf(merchant.AccessToken);

        var rotated = await RunAsync("keys", "rotate");
        var newToken = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);

        Assert.Equal(oldKid, rotated.GetProperty("retired_kid").GetString());
        Assert.Equal(rotated.GetProperty("kid").GetString(), KidOf(newToken));
        Assert.NotEqual(oldKid, KidOf(newToken));
        var kids = await PublishedKidsAsync();
        Assert.Contains(oldKid, kids);
        Assert.Contains(KidOf(newToken), kids);
        // Both tokens are accepted: the old one near the end of its life, too.
        gateway.Clock.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.RevokeAsync(merchant.AccessToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.RevokeAsync(newToken)).StatusCode);
    }

    [Fact]
    public async Task Retired_key_leaves_the_jwks_once_its_tokens_have_expired()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var oldKid = KidOf(merchant.AccessToken);
        await RunAsync("keys", "rotate");

        gateway.Clock.Advance(TimeSpan.FromHours(1));

        Assert.DoesNotContain(oldKid, await PublishedKidsAsync());
    }

    [Fact]
    public async Task Rotated_secret_works_and_the_old_one_only_within_the_grace_period()
    {
        var merchant = await gateway.CreateMerchantAsync();
        using var http = gateway.CreateClient();

        var rotated = await RunAsync("merchant", "rotate-secret", "--client-id", merchant.ClientId, "--grace-minutes", "60");
        var newSecret = rotated.GetProperty("client_secret").GetString()!;

        Assert.Equal(merchant.MerchantId, rotated.GetProperty("merchant_id").GetString());
        Assert.NotEqual(merchant.ClientSecret, newSecret);
        Assert.Equal(HttpStatusCode.OK, (await http.PostTokenJsonAsync(merchant.ClientId, newSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret)).StatusCode);

        gateway.Clock.Advance(TimeSpan.FromMinutes(61));

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostTokenJsonAsync(merchant.ClientId, merchant.ClientSecret)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostTokenJsonAsync(merchant.ClientId, newSecret)).StatusCode);
    }

    [Fact]
    public async Task Default_grace_period_comes_from_configuration()
    {
        var merchant = await gateway.CreateMerchantAsync();

        var rotated = await RunAsync("merchant", "rotate-secret", "--client-id", merchant.ClientId);

        var until = DateTimeOffset.Parse(rotated.GetProperty("previous_secret_valid_until").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(until - gateway.Clock.GetUtcNow(), TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
    }
}
