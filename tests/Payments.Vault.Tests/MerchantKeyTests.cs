using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Vault.Cards;
using Payments.Vault.Commands;
using Payments.Vault.Contracts;
using Payments.Vault.Crypto;
using Xunit.Abstractions;

namespace Payments.Vault.Tests;

public sealed class MerchantKeyTests(VaultFixture vault, ITestOutputHelper output) : IClassFixture<VaultFixture>
{
    private static Task<AcquirerOutcome> UseAsync(IServiceProvider services, string merchant, string token) =>
        services.GetRequiredService<CardVault>().AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_m"), CancellationToken.None);

    [Fact]
    public async Task Cards_of_two_merchants_are_sealed_under_different_data_keys_and_v1_payloads_still_read_until_rewrapped()
    {
        var first = VaultFixture.NewMerchant();
        var second = VaultFixture.NewMerchant();
        var a1 = await vault.TokenizeAsync(first);
        var a2 = await vault.TokenizeAsync(first);
        var b1 = await vault.TokenizeAsync(second);

        var dekA = await vault.ScalarAsync<Guid>("SELECT dek_id FROM vault.cards WHERE token = $1", a1);
        Assert.Equal(dekA, await vault.ScalarAsync<Guid>("SELECT dek_id FROM vault.cards WHERE token = $1", a2));
        Assert.NotEqual(dekA, await vault.ScalarAsync<Guid>("SELECT dek_id FROM vault.cards WHERE token = $1", b1));
        Assert.Equal(first, await vault.ScalarAsync<string>("SELECT scope FROM vault.wrapped_keys WHERE id = $1 AND purpose = 'merchant-dek'", dekA));
        Assert.Equal((short)2, await vault.ScalarAsync<short>("SELECT get_byte(ciphertext, 0)::int2 FROM vault.cards WHERE token = $1", a1));

        // A payload of before this change (v1: Data Protection alone) still decrypts, and rewrap moves it to v2.
        var services = vault.Vault.Services;
        var cipher = services.GetRequiredService<CardCipher>();
        var ring = services.GetRequiredService<CardKeyRing>();
        var plaintext = await cipher.UnprotectAsync(first, a1, (await vault.ScalarAsync<byte[]>("SELECT ciphertext FROM vault.cards WHERE token = $1", a1))!, CancellationToken.None);
        var key = ring.Current;
        var sealedBytes = ring.EncryptorFor(key).Encrypt(new ArraySegment<byte>(plaintext),
            new ArraySegment<byte>(Encoding.UTF8.GetBytes($"card.v1\0{first}\0{a1}\0{key.KeyId:N}")));
        var v1 = new byte[17 + sealedBytes.Length];
        v1[0] = 1;
        key.KeyId.TryWriteBytes(v1.AsSpan(1, 16));
        sealedBytes.CopyTo(v1, 17);
        await vault.ExecAsync("UPDATE vault.cards SET ciphertext = $2 WHERE token = $1", a1, v1);
        Assert.Null(await vault.ScalarAsync<Guid?>("SELECT dek_id FROM vault.cards WHERE token = $1", a1));
        Assert.True((await UseAsync(services, first, a1)).Approved);

        var report = await services.GetRequiredService<KeyOperations>().RewrapAsync(100, CancellationToken.None);

        Assert.True(report.Rewrapped >= 1);
        Assert.Equal(dekA, await vault.ScalarAsync<Guid>("SELECT dek_id FROM vault.cards WHERE token = $1", a1));
        Assert.True((await UseAsync(services, first, a1)).Approved);
    }

    [Fact]
    public async Task The_verbs_refuse_a_key_in_use_and_merchant_forget_waits_for_a_second_operator()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var keyId = await vault.ScalarAsync<Guid>("SELECT key_id FROM vault.cards WHERE token = $1", token);
        var services = vault.Vault.Services;
        var stdout = new StringWriter();

        Assert.Equal(1, await VaultCommands.RunAsync(services, ["keys", "destroy", keyId.ToString()], stdout, CancellationToken.None));
        Assert.Equal(2, await VaultCommands.RunAsync(services, ["merchant", "forget", "not-a-merchant"], stdout, CancellationToken.None));
        Assert.Equal(0, await VaultCommands.RunAsync(services, ["merchant", "forget", merchant], stdout, CancellationToken.None));

        // One operator's word only asks (ADR 131): the card still decrypts until another operator approves.
        Assert.Contains("\"pending\":true", stdout.ToString(), StringComparison.Ordinal);
        Assert.True((await UseAsync(services, merchant, token)).CardFound);
        Assert.NotNull(await vault.ScalarAsync<string>("SELECT xml FROM vault.data_protection_keys WHERE key_id = $1 AND destroyed_at IS NULL", keyId));
    }

    [Fact]
    public async Task Forgetting_a_merchant_makes_its_cards_unreadable_at_once_in_every_vault_process_and_no_other_merchants()
    {
        var forgotten = VaultFixture.NewMerchant();
        var kept = VaultFixture.NewMerchant();
        var gone = await vault.TokenizeAsync(forgotten);
        var stays = await vault.TokenizeAsync(kept);
        // A second Vault process on the same database, its cache warm with both merchants' keys.
        await using var other = new VaultFactory(vault.VaultSettings);
        _ = other.Server;
        var otherKeys = other.Services.GetRequiredService<MerchantKeys>();
        await otherKeys.ListeningStarted.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True((await UseAsync(other.Services, forgotten, gone)).CardFound);
        Assert.True((await UseAsync(other.Services, kept, stays)).CardFound);
        var notice = otherKeys.NoticeReceived(forgotten);

        var forgetStarted = Stopwatch.StartNew();
        var result = await vault.Vault.Services.GetRequiredService<MerchantKeys>().ForgetAsync(forgotten, CancellationToken.None);
        var committed = forgetStarted.Elapsed;

        Assert.Equal(1, result.KeysDestroyed);
        Assert.Equal(1L, result.CardsUnreadable);
        Assert.False((await UseAsync(vault.Vault.Services, forgotten, gone)).CardFound);
        await notice.WaitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine($"forget committed after {committed.TotalMilliseconds:F1} ms; the other Vault process had the notice " +
                         $"{forgetStarted.Elapsed.TotalMilliseconds:F1} ms after the call began");
        Assert.False((await UseAsync(other.Services, forgotten, gone)).CardFound);
        Assert.True((await UseAsync(other.Services, kept, stays)).Approved);
        Assert.True((await UseAsync(vault.Vault.Services, kept, stays)).Approved);

        Assert.Equal(1L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.wrapped_keys WHERE scope = $1 AND purpose = 'merchant-dek' AND wrapped IS NULL AND destroyed_at IS NOT NULL", forgotten));
        Assert.Equal(1L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.audit_log WHERE action = 'merchant.forgotten' AND merchant_id = $1", forgotten));
    }
}
