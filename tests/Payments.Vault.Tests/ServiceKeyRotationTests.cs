using System.Net;
using System.Security.Cryptography;
using System.Text;
using Payments.TestKit;
using Payments.Vault.Client;

namespace Payments.Vault.Tests;

/// <summary>
/// Rotating the Host↔Vault service key without downtime: the Vault takes calls signed with the previous key until
/// <c>Vault:PreviousServiceKeyUntil</c>, and with the current one always; after the grace period the old key is refused.
/// </summary>
public sealed class ServiceKeyRotationTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    private const string Path = "/internal/v1/cards/tok_0123456789ABCDEFGHJKMNPQRS";

    private async Task<HttpStatusCode> CallAsync(VaultFactory factory, string signingKey)
    {
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, Path);
        request.Headers.TryAddWithoutValidation("Authorization",
            new ServiceTokenSigner(signingKey, TimeProvider.System).Sign(VaultFixture.NewMerchant(), "GET", Path, Encoding.UTF8.GetBytes("")));
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private VaultFactory Rotated(string newKey, string? previousKey, DateTimeOffset? until)
    {
        var settings = new Dictionary<string, string?>(vault.VaultSettings)
        {
            ["Vault:ServiceKey"] = newKey,
            ["Vault:PreviousServiceKey"] = previousKey,
            ["Vault:PreviousServiceKeyUntil"] = until?.ToString("O"),
        };
        return new VaultFactory(settings);
    }

    [Fact]
    public async Task During_the_grace_period_both_keys_are_accepted_and_after_it_only_the_new_one()
    {
        var oldKey = vault.ServiceKey;
        var newKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

        await using (var during = Rotated(newKey, oldKey, DateTimeOffset.UtcNow.AddHours(1)))
        {
            // 404: the call got through authentication to the route (an unknown token), with either key.
            Assert.Equal(HttpStatusCode.NotFound, await CallAsync(during, oldKey));
            Assert.Equal(HttpStatusCode.NotFound, await CallAsync(during, newKey));
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(during, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
        }
        await using (var after = Rotated(newKey, oldKey, DateTimeOffset.UtcNow.AddSeconds(-1)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAsync(after, oldKey));
            Assert.Equal(HttpStatusCode.NotFound, await CallAsync(after, newKey));
        }
    }
}
