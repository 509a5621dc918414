using System.Net;
using System.Security.Cryptography;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Payments.TestKit;
using Payments.Vault.Audit;
using Payments.Vault.Cards;
using Payments.Vault.Contracts;
using Payments.Vault.Crypto;

namespace Payments.Vault.Tests;

public sealed class StorageSecurityTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    private Task<AcquirerOutcome> AuthorizeAsync(string merchant, string token) =>
        vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_t"), CancellationToken.None);

    [Fact]
    public async Task Flipping_any_byte_of_a_stored_ciphertext_makes_the_card_unusable()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var length = await vault.ScalarAsync<int>("SELECT length(ciphertext) FROM vault.cards WHERE token = $1", token);

        foreach (var offset in new[] { 0, 10, length / 2, length - 1 })
        {
            await vault.ExecAsync("UPDATE vault.cards SET ciphertext = set_byte(ciphertext, $2, get_byte(ciphertext, $2) # 1) WHERE token = $1", token, offset);
            Assert.False((await AuthorizeAsync(merchant, token)).CardFound);
            await vault.ExecAsync("UPDATE vault.cards SET ciphertext = set_byte(ciphertext, $2, get_byte(ciphertext, $2) # 1) WHERE token = $1", token, offset);
        }
        Assert.True((await AuthorizeAsync(merchant, token)).Approved);
    }

    [Fact]
    public async Task Ciphertexts_swapped_between_rows_do_not_decrypt()
    {
        var merchant = VaultFixture.NewMerchant();
        var approved = await vault.TokenizeAsync(merchant, "4242424242424242");
        var declined = await vault.TokenizeAsync(merchant, "4000000000000002");

        await vault.ExecAsync("""
            UPDATE vault.cards c SET ciphertext = o.ciphertext
            FROM (SELECT token, ciphertext FROM vault.cards WHERE token IN ($1, $2)) o
            WHERE c.token IN ($1, $2) AND o.token <> c.token
            """, approved, declined);

        Assert.False((await AuthorizeAsync(merchant, approved)).CardFound);
        Assert.False((await AuthorizeAsync(merchant, declined)).CardFound);
    }

    [Fact]
    public async Task After_rotation_old_cards_still_read_and_rewrap_leaves_no_card_on_the_old_key_which_can_then_be_revoked()
    {
        var keys = vault.Vault.Services.GetRequiredService<KeyOperations>();
        var merchant = VaultFixture.NewMerchant();
        var old = await vault.TokenizeAsync(merchant, "5555555555554444");
        var oldKey = keys.CurrentKeyId();
        Assert.Equal(oldKey, await vault.ScalarAsync<Guid>("SELECT key_id FROM vault.cards WHERE token = $1", old));

        var newKey = keys.Rotate();
        Assert.NotEqual(oldKey, newKey);
        Assert.Equal(newKey, keys.CurrentKeyId());
        var fresh = await vault.TokenizeAsync(merchant);
        Assert.Equal(newKey, await vault.ScalarAsync<Guid>("SELECT key_id FROM vault.cards WHERE token = $1", fresh));
        Assert.True((await AuthorizeAsync(merchant, old)).Approved); // rotation then read

        var refused = await keys.RevokeAsync(oldKey, force: false, CancellationToken.None);
        Assert.False(refused.Revoked);
        Assert.True(refused.Remaining > 0);

        var rewrapped = (await keys.RewrapAsync(2, CancellationToken.None)).Rewrapped;
        Assert.True(rewrapped > 0);
        var counts = await keys.CountsAsync(CancellationToken.None);
        Assert.Equal(0, counts.GetValueOrDefault(oldKey));
        Assert.Equal(0L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.cards WHERE key_id <> $1", newKey));

        var revoked = await keys.RevokeAsync(oldKey, force: false, CancellationToken.None);
        Assert.True(revoked.Revoked);
        Assert.True((await AuthorizeAsync(merchant, old)).Approved);
        Assert.Contains((await keys.ListAsync(CancellationToken.None)), k => k.KeyId == oldKey && k.Revoked);
        Assert.True(await vault.ScalarAsync<long>("SELECT count(*) FROM vault.audit_log WHERE action IN ('key.created', 'key.revoked', 'keys.rewrap')") >= 3);
    }

    [Fact]
    public async Task Key_rows_are_stored_encrypted_and_a_forged_key_row_is_ignored()
    {
        var merchant = VaultFixture.NewMerchant();
        await vault.TokenizeAsync(merchant);
        var xml = await vault.ScalarAsync<string>("SELECT xml FROM vault.data_protection_keys ORDER BY id LIMIT 1");
        Assert.Contains("kekEncryptedKey", xml, StringComparison.Ordinal);
        Assert.DoesNotContain("<masterKey", xml, StringComparison.Ordinal);

        // A key row written behind the Vault's back (no valid MAC) must not join the ring.
        var forgedId = Guid.NewGuid();
        var forged = xml!.Replace(xml[(xml.IndexOf("id=\"", StringComparison.Ordinal) + 4)..][..36], forgedId.ToString(), StringComparison.Ordinal);
        await vault.ExecAsync("INSERT INTO vault.data_protection_keys (friendly_name, xml, mac) VALUES ('forged', $1, '\\x00')", forged);
        var repository = vault.Vault.Services.GetRequiredService<PostgresXmlRepository>();

        var elements = repository.GetAllElements();

        Assert.DoesNotContain(elements, e => (string?)e.Attribute("id") == forgedId.ToString());
        Assert.NotEmpty(elements);
    }

    [Fact]
    public async Task The_key_ring_is_not_read_before_the_kek_is_matched_to_its_version()
    {
        await vault.TokenizeAsync(VaultFixture.NewMerchant());
        // As a process sees its KEK before the start-up check: every stored row would look like another version's,
        // and an empty ring would have Data Protection make a new key.
        var uncheckedKek = Kek.FromComponents([RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32)]);
        var services = vault.Vault.Services;
        var repository = new PostgresXmlRepository(services.GetRequiredService<NpgsqlDataSource>(), uncheckedKek,
            services.GetRequiredService<AuditLog>(), NullLogger<PostgresXmlRepository>.Instance);
        var rows = await vault.ScalarAsync<long>("SELECT count(*) FROM vault.data_protection_keys");

        Assert.Throws<InvalidOperationException>(() => repository.GetAllElements());
        Assert.Throws<InvalidOperationException>(() => repository.StoreElement(new XElement("key"), "early"));
        Assert.Equal(rows, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.data_protection_keys"));
    }

    [Fact]
    public async Task The_serving_role_cannot_update_or_delete_audit_or_key_rows()
    {
        await vault.TokenizeAsync(VaultFixture.NewMerchant());
        await using var conn = new NpgsqlConnection(vault.ServingConnectionString);
        await conn.OpenAsync();

        foreach (var sql in new[]
                 {
                     "UPDATE vault.audit_log SET detail = '{}'",
                     "DELETE FROM vault.audit_log",
                     "UPDATE vault.data_protection_keys SET xml = xml",
                     "DELETE FROM vault.data_protection_keys",
                     "TRUNCATE vault.audit_log",
                     "ALTER TABLE vault.audit_log DISABLE TRIGGER USER",
                     "ALTER TABLE vault.data_protection_keys DISABLE TRIGGER USER",
                 })
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
        }
        await using var count = new NpgsqlCommand("SELECT count(*) FROM vault.audit_log", conn);
        Assert.True((long)(await count.ExecuteScalarAsync())! > 0);
    }

    [Fact]
    public void The_serving_vault_is_configured_without_the_owner_credential()
    {
        var config = vault.Vault.Services.GetRequiredService<IConfiguration>();

        Assert.Null(config.GetConnectionString("VaultMigrations"));
        Assert.Equal(vault.ServingRole, new NpgsqlConnectionStringBuilder(config.GetConnectionString("Vault")).Username);
    }

    [Fact]
    public async Task A_vault_given_the_owner_credential_refuses_to_serve()
    {
        var settings = new Dictionary<string, string?>(vault.VaultSettings)
        {
            ["ConnectionStrings:VaultMigrations"] = vault.VaultConnectionString,
        };
        var e = await StartupFailure.OfAsync(() => new VaultFactory(settings));

        Assert.Contains("VaultMigrations", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editing_an_audit_row_breaks_the_chain_at_that_row()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        await AuthorizeAsync(merchant, token);
        var db = vault.Vault.Services.GetRequiredService<NpgsqlDataSource>();
        var key = vault.Vault.Services.GetRequiredService<IAuditKey>();
        Assert.True((await AuditVerifier.VerifyAsync(db, key, null, CancellationToken.None)).Valid);
        var seq = await vault.ScalarAsync<long>("SELECT seq FROM vault.audit_log WHERE subject = $1 ORDER BY seq LIMIT 1", token);

        // Someone with superuser rights bypasses the append-only triggers and edits the row.
        await using (var conn = new NpgsqlConnection(vault.VaultConnectionString))
        {
            await conn.OpenAsync();
            await using (var bypass = new NpgsqlCommand("SET session_replication_role = replica", conn))
            {
                await bypass.ExecuteNonQueryAsync();
            }
            await using var cmd = new NpgsqlCommand("UPDATE vault.audit_log SET detail = replace(detail, 'VISA', 'AMEX') WHERE seq = $1", conn);
            cmd.Parameters.Add(new() { Value = seq });
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }

        var verification = await AuditVerifier.VerifyAsync(db, key, null, CancellationToken.None);
        Assert.False(verification.Valid);
        Assert.Equal(seq, verification.FirstBrokenSeq);
        Assert.Equal("row_changed", verification.Problem);
    }
}

public sealed class CvcLifetimeTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    [Fact]
    public async Task The_cvc_is_in_no_store_after_authorization_nor_after_a_restart()
    {
        const string cvc = "9173";
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant, "4242424242424242", cvc);
        var second = await vault.TokenizeAsync(merchant, "4242424242424242", cvc);
        Assert.True(vault.Vault.Services.GetRequiredService<CvcStore>().Contains(token));

        await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_c"), CancellationToken.None);

        Assert.False(vault.Vault.Services.GetRequiredService<CvcStore>().Contains(token));
        // No column of any table in the Vault's database holds the CVC as text.
        var textDump = await vault.ScalarAsync<string>("""
            SELECT string_agg(t::text, E'\n') FROM (
              SELECT token, merchant_id, fingerprint, brand, null, last4, exp_month, exp_year FROM vault.cards
              UNION ALL SELECT merchant_id, attempt_key, card_token, authorization_code, array_to_string(refs, ','), currency, null, null FROM vault.approvals
              UNION ALL SELECT action, merchant_id, subject, detail, null, null, null, null FROM vault.audit_log
              UNION ALL SELECT intent_id, merchant_id, client_secret_sha256, status, return_url, card_token, null, null FROM vault.tokenization_intents
            ) t
            """);
        Assert.DoesNotContain(cvc, textDump, StringComparison.Ordinal);
        var cvcColumns = await vault.ScalarAsync<long>(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'vault' AND column_name ILIKE '%cv%'");
        Assert.Equal(0L, cvcColumns);

        // A new Vault process on the same database and keys: the unused CVC of the second card is gone too.
        await using var restarted = new VaultFactory(vault.VaultSettings);
        _ = restarted.Server;
        Assert.Equal(0, restarted.Services.GetRequiredService<CvcStore>().Count);
        var cards = restarted.Services.GetRequiredService<CardVault>();
        var outcome = await cards.AuthorizeAsync(merchant, new AcquirerRequest(second, 100, "USD", "trx_r"), CancellationToken.None);
        Assert.True(outcome.Approved);
        Assert.Equal("false", await vault.ScalarAsync<string>(
            "SELECT detail::jsonb ->> 'with_cvc' FROM vault.audit_log WHERE subject = $1 AND action = 'card.authorize'", second));
    }
}

public sealed class StartupTests
{
    [Fact]
    public async Task The_vault_does_not_start_without_a_kek()
    {
        var pg = await PostgresServer.SharedAsync();
        var db = await pg.CreateDatabaseAsync("vault_nokek");
        await VaultStartup.MigrateAsync(db, null, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        var e = await StartupFailure.OfAsync(() => new VaultFactory(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Vault"] = db,
            ["Vault:ServiceKey"] = Convert.ToBase64String(new byte[32]),
            ["Vault:Kek:Components:0"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
        }));

        Assert.Contains("Kek", e.ToString(), StringComparison.Ordinal);
        await using var conn = new NpgsqlConnection(db);
        await conn.OpenAsync();
        await using var exists = new NpgsqlCommand("SELECT to_regclass('vault.data_protection_keys') IS NOT NULL", conn);
        if ((bool)(await exists.ExecuteScalarAsync())!)
        {
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM vault.data_protection_keys", conn);
            Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
        }
    }
}

public sealed class RateLimitFixture : VaultFixture
{
    protected override void ConfigureVault(Dictionary<string, string?> settings)
    {
        base.ConfigureVault(settings);
        settings["Vault:RateLimits:SubmissionsPerMinute"] = "3";
        settings["Vault:RateLimits:CardUsesPerMinute"] = "2";
    }
}

public sealed class RateLimitTests(RateLimitFixture vault) : IClassFixture<RateLimitFixture>
{
    [Fact]
    public async Task Submissions_and_card_uses_over_the_merchants_limit_answer_429_with_retry_after()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        await vault.TokenizeAsync(merchant);
        await vault.TokenizeAsync(merchant);
        var (id, secret) = await vault.RegisterIntentAsync(merchant);

        using var limited = await vault.SubmitCardAsync(id, secret);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.NotNull(limited.Headers.RetryAfter);
        // Another merchant has its own budget.
        await vault.TokenizeAsync(VaultFixture.NewMerchant());

        var request = new AcquirerRequest(token, 100, "USD", "trx_l");
        await vault.VaultClient.AuthorizeAsync(merchant, request, CancellationToken.None);
        await vault.VaultClient.AuthorizeAsync(merchant, request, CancellationToken.None);
        var e = await Assert.ThrowsAsync<Payments.BuildingBlocks.Http.ProblemException>(
            () => vault.VaultClient.AuthorizeAsync(merchant, request, CancellationToken.None));
        Assert.Equal(429, e.Status);
        Assert.NotNull(e.RetryAfterSeconds);
    }
}
