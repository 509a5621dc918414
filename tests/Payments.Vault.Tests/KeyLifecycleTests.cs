using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.TestKit;
using Payments.Vault.Audit;
using Payments.Vault.Contracts;
using Payments.Vault.Crypto;

namespace Payments.Vault.Tests;

public sealed class KeyAdminRoleTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    [Fact]
    public async Task The_serving_role_cannot_change_key_rows_except_through_the_keyadmin_functions()
    {
        await vault.TokenizeAsync(VaultFixture.NewMerchant());
        await using var conn = new NpgsqlConnection(vault.ServingConnectionString);
        await conn.OpenAsync();

        foreach (var sql in new[]
                 {
                     "UPDATE vault.wrapped_keys SET wrapped = wrapped",
                     "UPDATE vault.wrapped_keys SET wrapped = NULL, destroyed_at = now()",
                     "DELETE FROM vault.wrapped_keys",
                     "TRUNCATE vault.wrapped_keys",
                     "UPDATE vault.kek_versions SET retired_at = now()",
                     "DELETE FROM vault.kek_versions",
                     "INSERT INTO vault.kek_versions (version, check_value) VALUES (99, 'ABCDEF')",
                     "UPDATE vault.data_protection_keys SET xml = xml",
                     "UPDATE vault.data_protection_keys SET destroyed_at = now()",
                     "DELETE FROM vault.data_protection_keys",
                     "UPDATE vault.card_key_policy SET min_decryption_key = NULL",
                     "ALTER TABLE vault.wrapped_keys DISABLE TRIGGER USER",
                     "SET ROLE vault_keyadmin",
                     "ALTER FUNCTION vault.forget_merchant(text) SECURITY INVOKER",
                 })
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
            Assert.True(e.SqlState is PostgresErrorCodes.InsufficientPrivilege or "42501", $"{sql}: {e.SqlState}");
        }

        // The functions belong to vault_keyadmin, run as it with a pinned search_path, and PUBLIC may not call them.
        await using var check = new NpgsqlCommand("""
            SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'vault' AND p.prosecdef AND pg_get_userbyid(p.proowner) = 'vault_keyadmin'
              AND p.proconfig = ARRAY['search_path=pg_catalog, pg_temp']
              AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)
            """, conn);
        Assert.Equal(8L, (long)(await check.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Wrapped_keys_are_stored_only_wrapped_with_their_kek_version_and_check_value()
    {
        await vault.TokenizeAsync(VaultFixture.NewMerchant());
        var auditKey = vault.Vault.Services.GetRequiredService<IAuditKey>().Current;
        var wrapped = await vault.ScalarAsync<byte[]>("SELECT wrapped FROM vault.wrapped_keys WHERE purpose = 'audit-mac' AND version = $1", auditKey.Version);

        Assert.Equal(32, auditKey.Key.Length);
        Assert.NotNull(wrapped);
        Assert.False(wrapped.AsSpan().IndexOf(auditKey.Key.AsSpan(0, 8)) >= 0, "the audit key is in the database in clear");
        Assert.Equal(KeyCheck.Of(auditKey.Key), await vault.ScalarAsync<string>("SELECT check_value FROM vault.wrapped_keys WHERE purpose = 'audit-mac'"));
        Assert.Equal(0L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.wrapped_keys WHERE kek_version <> 1"));
        Assert.Equal(3L, await vault.ScalarAsync<long>("SELECT count(DISTINCT purpose) FROM vault.wrapped_keys"));

        // A wrapped key moved to another row does not unwrap.
        var keys = vault.Vault.Services.GetRequiredService<WrappedKeys>();
        var merchant = VaultFixture.NewMerchant();
        await vault.TokenizeAsync(merchant);
        await using (var conn = new NpgsqlConnection(vault.VaultConnectionString))
        {
            await conn.OpenAsync();
            await using (var bypass = new NpgsqlCommand("SET session_replication_role = replica", conn))
            {
                await bypass.ExecuteNonQueryAsync();
            }
            await using var cmd = new NpgsqlCommand("""
                UPDATE vault.wrapped_keys SET wrapped = (SELECT wrapped FROM vault.wrapped_keys WHERE purpose = 'audit-mac' LIMIT 1)
                WHERE purpose = 'merchant-dek' AND scope = $1
                """, conn);
            cmd.Parameters.Add(new() { Value = merchant });
            await cmd.ExecuteNonQueryAsync();
        }
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => keys.Latest(WrappedKeys.MerchantDek, merchant));
    }
}

public sealed class KeyDestructionTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    private Task<AcquirerOutcome> AuthorizeAsync(string merchant, string token) =>
        vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_d"), CancellationToken.None);

    [Fact]
    public async Task Min_decryption_stops_older_keys_until_lowered_and_destroy_refuses_a_key_a_card_uses()
    {
        var keys = vault.Vault.Services.GetRequiredService<KeyOperations>();
        var merchant = VaultFixture.NewMerchant();
        var old = await vault.TokenizeAsync(merchant);
        var oldKey = keys.CurrentKeyId();
        var newKey = keys.Rotate();
        var fresh = await vault.TokenizeAsync(merchant);

        // Minimum decryption: the card on the older key stops decrypting; the newer one is fine.
        Assert.Equal(1L, await keys.SetMinimumDecryptionKeyAsync(newKey, CancellationToken.None));
        Assert.False((await AuthorizeAsync(merchant, old)).CardFound);
        Assert.True((await AuthorizeAsync(merchant, fresh)).Approved);
        Assert.Equal(0L, await keys.SetMinimumDecryptionKeyAsync(oldKey, CancellationToken.None));
        Assert.True((await AuthorizeAsync(merchant, old)).Approved);

        // Destroy: refused while a card uses the key, then while it is neither revoked nor below the minimum.
        var inUse = await Assert.ThrowsAsync<PostgresException>(() => keys.DestroyAsync(oldKey, CancellationToken.None));
        Assert.Equal(PostgresErrorCodes.ObjectInUse, inUse.SqlState);
        var report = await keys.RewrapAsync(100, CancellationToken.None);
        Assert.Equal(0, report.Unreadable);
        var notRetired = await Assert.ThrowsAsync<PostgresException>(() => keys.DestroyAsync(oldKey, CancellationToken.None));
        Assert.Equal(PostgresErrorCodes.ObjectNotInPrerequisiteState, notRetired.SqlState);
        Assert.Equal(0L, await keys.SetMinimumDecryptionKeyAsync(newKey, CancellationToken.None));

        await keys.DestroyAsync(oldKey, CancellationToken.None);

        // A tombstone: the row stays, its material is gone, the ring no longer has it; the cards all still read.
        Assert.Equal("", await vault.ScalarAsync<string>("SELECT xml FROM vault.data_protection_keys WHERE key_id = $1 AND friendly_name LIKE 'key-%'", oldKey));
        Assert.NotNull(await vault.ScalarAsync<DateTime?>("SELECT destroyed_at FROM vault.data_protection_keys WHERE key_id = $1 AND friendly_name LIKE 'key-%'", oldKey));
        Assert.DoesNotContain(await keys.ListAsync(CancellationToken.None), k => k.KeyId == oldKey);
        Assert.True((await AuthorizeAsync(merchant, old)).Approved);
        Assert.Equal(1L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.audit_log WHERE action = 'key.destroyed' AND subject = $1", oldKey.ToString()));
        var again = await Assert.ThrowsAsync<PostgresException>(() => keys.DestroyAsync(oldKey, CancellationToken.None));
        Assert.Equal(PostgresErrorCodes.NoDataFound, again.SqlState);
    }
}

public sealed class RewrapTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    [Fact]
    public async Task Rewrap_walks_every_card_once_and_reports_unreadable_rows_without_stopping()
    {
        var keys = vault.Vault.Services.GetRequiredService<KeyOperations>();
        var merchant = VaultFixture.NewMerchant();
        for (var i = 0; i < 6; i++)
        {
            await vault.TokenizeAsync(merchant);
        }
        var current = keys.Rotate();
        // The first two cards in token order cannot be read: a whole first batch of unreadable rows.
        var broken = new List<string>();
        await using (var conn = new NpgsqlConnection(vault.VaultConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("""
                UPDATE vault.cards SET ciphertext = set_byte(ciphertext, length(ciphertext) - 1, get_byte(ciphertext, length(ciphertext) - 1) # 1)
                WHERE token IN (SELECT token FROM vault.cards ORDER BY token LIMIT 2) RETURNING token
                """, conn);
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                broken.Add(r.GetString(0));
            }
        }

        var report = await keys.RewrapAsync(2, CancellationToken.None);

        Assert.Equal(4, report.Rewrapped);
        Assert.Equal(2, report.Unreadable);
        Assert.Equal(broken.Order(StringComparer.Ordinal), report.UnreadableTokens.Order(StringComparer.Ordinal));
        Assert.Equal(2L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.cards WHERE key_id <> $1", current));
        var again = await keys.RewrapAsync(2, CancellationToken.None);
        Assert.Equal(0, again.Rewrapped);
        Assert.Equal(2, again.Unreadable);
    }
}
