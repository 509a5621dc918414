using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Payments.TestKit;

namespace Payments.Vault.Tests;

/// <summary>One place for the Vault's writes and no queue, so a second concurrent card post is shed.</summary>
public sealed class OnePlaceVaultFixture : VaultFixture
{
    protected override void ConfigureVault(Dictionary<string, string?> settings)
    {
        base.ConfigureVault(settings);
        settings["Admission:MaxConcurrent"] = "1";
        settings["Admission:QueueLimit"] = "0";
        settings["Admission:OverloadQueueLimit"] = "0";
    }
}

/// <summary>
/// The Vault's own admission control (ADR 40): past its places a write is refused at once with 503 <c>overloaded</c>,
/// an answer its document gives, that changes nothing and tells the cardholder's side no Idempotency-Key to reuse (the
/// card post has none; the detail was the Host's).
/// </summary>
public sealed class VaultAdmissionTests(OnePlaceVaultFixture gateway) : IClassFixture<OnePlaceVaultFixture>
{
    [Fact]
    public async Task Past_its_places_a_card_post_is_shed_with_a_documented_503_and_changes_nothing()
    {
        var merchant = VaultFixture.NewMerchant();
        var (held, heldSecret) = await gateway.RegisterIntentAsync(merchant);
        var (shed, shedSecret) = await gateway.RegisterIntentAsync(merchant);
        using var vault = gateway.Vault.CreateDefaultClient(OpenApiAnswerValidator.ReadingFrom(() => gateway.Vault.CreateClient(), "vault"));

        await using var db = NpgsqlDataSource.Create(gateway.VaultConnectionString);
        await using var holder = await db.OpenConnectionAsync();
        var tx = await holder.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE vault.tokenization_intents IN ACCESS EXCLUSIVE MODE", holder, tx))
        {
            await lockTable.ExecuteNonQueryAsync();
        }
        // The first post takes the only place and waits on the lock (its own read, not the Host's feed poll, which
        // waits on the lock too).
        var first = vault.PostAsJsonAsync($"/v1/tokenization-intents/{held}/card", CardPost.Body(heldSecret));
        await LockWaits.UntilWaitingAsync(db, "FROM vault.tokenization_intents WHERE intent_id", "the first card post");

        using (var refused = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{shed}/card", CardPost.Body(shedSecret)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            using var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            Assert.Equal("overloaded", problem.RootElement.GetProperty("code").GetString());
            Assert.Equal("Service unavailable", problem.RootElement.GetProperty("title").GetString());
            Assert.DoesNotContain("Idempotency-Key", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await tx.RollbackAsync();
        await tx.DisposeAsync();
        using (var served = await first)
        {
            Assert.Equal(HttpStatusCode.Created, served.StatusCode);
        }
        // The refusal changed nothing: the intent still takes its card.
        Assert.Equal("REQUIRES_CARD", await gateway.ScalarAsync<string>("SELECT status FROM vault.tokenization_intents WHERE intent_id = $1", shed));
        using var again = await vault.PostAsJsonAsync($"/v1/tokenization-intents/{shed}/card", CardPost.Body(shedSecret));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }
}
