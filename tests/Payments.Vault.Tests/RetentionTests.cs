using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Audit;
using Payments.Vault.Cards;
using Payments.Vault.Contracts;

namespace Payments.Vault.Tests;

/// <summary>
/// Cards unused past the retention are deleted and audited, never while a refund or chargeback can still come
/// (ADR 132); a card use records the card's last use at most once a day.
/// </summary>
public sealed class RetentionTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    [Fact]
    public async Task A_card_unused_past_the_retention_is_deleted_audited_and_forgotten_and_a_used_one_kept()
    {
        var merchant = VaultFixture.NewMerchant();
        var neverUsed = await vault.TokenizeAsync(merchant);
        var usedLately = await vault.TokenizeAsync(merchant);
        var fresh = await vault.TokenizeAsync(merchant);
        await vault.ExecAsync("UPDATE vault.cards SET created_at = now() - interval '400 days' WHERE token IN ($1, $2)", neverUsed, usedLately);
        await vault.ExecAsync("UPDATE vault.cards SET last_used_at = now() - interval '100 days' WHERE token = $1", usedLately);
        var cvcs = vault.Vault.Services.GetRequiredService<CvcStore>();
        Assert.True(cvcs.Contains(neverUsed));

        var deleted = await vault.Vault.Services.GetRequiredService<CardRetention>().SweepAsync(CancellationToken.None);

        Assert.True(deleted >= 1);
        Assert.Equal(usedLately + "," + fresh, await vault.ScalarAsync<string>(
            "SELECT string_agg(token, ',' ORDER BY token = $2 DESC) FROM vault.cards WHERE merchant_id = $1", merchant, usedLately));
        Assert.False(cvcs.Contains(neverUsed));
        Assert.False((await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(neverUsed, 100, "USD", "trx_r"), CancellationToken.None)).CardFound);
        var audited = await vault.ScalarAsync<string>(
            "SELECT detail FROM vault.audit_log WHERE action = 'card.retention_deleted' AND subject = $1 AND merchant_id = $2", neverUsed, merchant);
        Assert.NotNull(audited);
        Assert.DoesNotContain("4242", audited, StringComparison.Ordinal);
        Assert.Null(await vault.ScalarAsync<string>("SELECT subject FROM vault.audit_log WHERE action = 'card.retention_deleted' AND subject = $1", usedLately));
    }

    [Fact]
    public async Task A_shorter_retention_never_deletes_a_card_whose_last_use_can_still_be_refunded_or_charged_back()
    {
        var merchant = VaultFixture.NewMerchant();
        var refundable = await vault.TokenizeAsync(merchant);
        var past = await vault.TokenizeAsync(merchant);
        await vault.ExecAsync("UPDATE vault.cards SET created_at = now() - interval '400 days' WHERE token IN ($1, $2)", refundable, past);
        // Last used 100 days ago: a capture within the authorization window, then 180 days of refunds and chargebacks.
        await vault.ExecAsync("UPDATE vault.cards SET last_used_at = now() - interval '100 days' WHERE token = $1", refundable);
        await vault.ExecAsync("UPDATE vault.cards SET last_used_at = now() - interval '200 days' WHERE token = $1", past);
        var s = vault.Vault.Services;
        var thirtyDays = new CardRetention(s.GetRequiredService<NpgsqlDataSource>(), s.GetRequiredService<AuditLog>(), s.GetRequiredService<CvcStore>(),
            Options.Create(new VaultOptions { Retention = { CardsUnusedFor = TimeSpan.FromDays(30) } }));

        await thirtyDays.SweepAsync(CancellationToken.None);

        Assert.Equal(refundable, await vault.ScalarAsync<string>("SELECT string_agg(token, ',') FROM vault.cards WHERE merchant_id = $1", merchant));
    }

    [Fact]
    public async Task A_card_use_records_the_last_use_at_most_once_a_day()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        Assert.Null(await vault.ScalarAsync<DateTime?>("SELECT last_used_at FROM vault.cards WHERE token = $1", token));

        await AuthorizeAsync(merchant, token);
        Assert.True(await vault.ScalarAsync<bool>("SELECT last_used_at > now() - interval '1 minute' FROM vault.cards WHERE token = $1", token));
        await vault.ExecAsync("UPDATE vault.cards SET last_used_at = now() - interval '2 hours' WHERE token = $1", token);
        await AuthorizeAsync(merchant, token);
        Assert.True(await vault.ScalarAsync<bool>("SELECT last_used_at < now() - interval '1 hour' FROM vault.cards WHERE token = $1", token));
        await vault.ExecAsync("UPDATE vault.cards SET last_used_at = now() - interval '2 days' WHERE token = $1", token);
        await vault.VaultClient.RefundAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_l"), CancellationToken.None);
        Assert.True(await vault.ScalarAsync<bool>("SELECT last_used_at > now() - interval '1 minute' FROM vault.cards WHERE token = $1", token));
    }

    [Fact]
    public async Task The_unused_bin_column_is_gone()
    {
        Assert.Equal(0L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'vault' AND table_name = 'cards' AND column_name = 'bin'"));
    }

    private Task<AcquirerOutcome> AuthorizeAsync(string merchant, string token) =>
        vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_l"), CancellationToken.None);
}
