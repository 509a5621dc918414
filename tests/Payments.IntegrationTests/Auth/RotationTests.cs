using System.Buffers.Text;
using System.Globalization;
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

    /// <summary>Each test starts from one key signing now: another test's rotation may have left one waiting its turn.</summary>
    private async Task<string> SigningNowAsync() => (await RunAsync("keys", "rotate", "--now")).GetProperty("kid").GetString()!;

    private async Task<string> NewTokenKidAsync(MerchantClient merchant) =>
        KidOf(await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret));

    private static DateTimeOffset SignsFrom(JsonElement rotated) =>
        DateTimeOffset.Parse(rotated.GetProperty("signs_from").GetString()!, CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_rotated_in_key_is_published_before_it_signs_and_old_tokens_stay_valid()
    {
        var oldKid = await SigningNowAsync();
        var issuedAt = gateway.Clock.GetUtcNow();
        var merchant = await gateway.CreateMerchantClientAsync();

        var rotated = await RunAsync("keys", "rotate");
        var newKid = rotated.GetProperty("kid").GetString()!;
        var signsFrom = SignsFrom(rotated);

        // A verifier that fetched the JWKS just before the rotation keeps its copy for the JWKS max-age: the new key
        // is in every copy fetched from now on, and signs nothing until every earlier copy has expired.
        Assert.Equal(oldKid, rotated.GetProperty("retired_kid").GetString());
        Assert.Contains(newKid, await PublishedKidsAsync());
        using (var http = gateway.CreateClient())
        using (var jwks = await http.GetAsync(new Uri("/.well-known/jwks.json", UriKind.Relative)))
        {
            Assert.InRange(signsFrom - gateway.Clock.GetUtcNow(), jwks.Headers.CacheControl!.MaxAge!.Value, TimeSpan.FromMinutes(10));
        }
        Assert.Equal(oldKid, await NewTokenKidAsync(merchant));
        // Just before its turn, with room for a slow token request (the test clock also runs with real time).
        gateway.Clock.Advance(signsFrom - gateway.Clock.GetUtcNow() - TimeSpan.FromSeconds(30));
        Assert.Equal(oldKid, await NewTokenKidAsync(merchant));

        gateway.Clock.Advance(TimeSpan.FromSeconds(30));
        var newToken = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);

        Assert.Equal(newKid, KidOf(newToken));
        var kids = await PublishedKidsAsync();
        Assert.Contains(oldKid, kids);
        Assert.Contains(newKid, kids);
        // Both tokens are accepted: the old one near the end of its life, too.
        gateway.Clock.Advance(issuedAt + TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(5) - gateway.Clock.GetUtcNow());
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.RevokeAsync(merchant.AccessToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.RevokeAsync(newToken)).StatusCode);
    }

    [Fact]
    public async Task Rotating_now_signs_with_the_new_key_at_once_and_keeps_old_tokens_valid()
    {
        var oldKid = await SigningNowAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var rotated = await RunAsync("keys", "rotate", "--now");
        var newToken = await gateway.GetAccessTokenAsync(merchant.ClientId, merchant.ClientSecret);

        Assert.Equal(oldKid, rotated.GetProperty("retired_kid").GetString());
        Assert.Equal(rotated.GetProperty("kid").GetString(), KidOf(newToken));
        Assert.NotEqual(oldKid, KidOf(newToken));
        var kids = await PublishedKidsAsync();
        Assert.Contains(oldKid, kids);
        Assert.Contains(KidOf(newToken), kids);
        gateway.Clock.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.RevokeAsync(merchant.AccessToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await gateway.RevokeAsync(newToken)).StatusCode);
    }

    [Fact]
    public async Task Rotating_again_before_the_next_key_signs_shortens_its_turn()
    {
        var oldKid = await SigningNowAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var first = await RunAsync("keys", "rotate");
        gateway.Clock.Advance(TimeSpan.FromMinutes(1));
        var second = await RunAsync("keys", "rotate");

        // Each key signs in its own turn: the old one until the first new key's, that one until the second's.
        Assert.Equal(oldKid, second.GetProperty("retired_kid").GetString());
        Assert.Equal(oldKid, await NewTokenKidAsync(merchant));
        gateway.Clock.Advance(SignsFrom(first) - gateway.Clock.GetUtcNow());
        Assert.Equal(first.GetProperty("kid").GetString(), await NewTokenKidAsync(merchant));
        gateway.Clock.Advance(SignsFrom(second) - gateway.Clock.GetUtcNow());
        Assert.Equal(second.GetProperty("kid").GetString(), await NewTokenKidAsync(merchant));
    }

    [Fact]
    public async Task Rotating_now_retires_a_key_waiting_for_its_turn_unused()
    {
        await SigningNowAsync();
        var merchant = await gateway.CreateMerchantClientAsync();

        var waiting = await RunAsync("keys", "rotate");
        var now = await RunAsync("keys", "rotate", "--now");

        Assert.Equal(now.GetProperty("kid").GetString(), await NewTokenKidAsync(merchant));
        gateway.Clock.Advance(SignsFrom(waiting) - gateway.Clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        Assert.Equal(now.GetProperty("kid").GetString(), await NewTokenKidAsync(merchant));
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

        var text = rotated.GetProperty("previous_secret_valid_until").GetString()!;
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$", text); // as the API writes timestamps
        var until = DateTimeOffset.Parse(text, CultureInfo.InvariantCulture);
        Assert.InRange(until - gateway.Clock.GetUtcNow(), TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
    }
}
