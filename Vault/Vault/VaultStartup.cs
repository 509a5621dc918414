using System.Text.RegularExpressions;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.Vault.Crypto;

namespace Payments.Vault;

/// <summary>
/// Before the Vault serves: applies its migrations (as the owner role of <c>ConnectionStrings:VaultMigrations</c>
/// when given, granting the serving role only what it needs: audit and key rows are SELECT/INSERT only), checks the
/// KEK, and makes sure a key exists and round-trips, so a misconfigured Vault fails at start, not at the first card.
/// See docs/adr/0021-vault-database-roles.md.
/// </summary>
internal sealed partial class VaultStartup(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => PrepareAsync(services, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static async Task PrepareAsync(IServiceProvider services, CancellationToken ct)
    {
        var config = services.GetRequiredService<IConfiguration>();
        var logger = services.GetRequiredService<ILogger<VaultStartup>>();
        var serving = services.GetRequiredService<NpgsqlDataSource>();
        var ownerConnection = config.GetConnectionString("VaultMigrations");
        if (string.IsNullOrEmpty(ownerConnection))
        {
            await SqlMigrationRunner.ApplyAsync(serving, [new ModuleMigrations("vault", typeof(VaultStartup).Assembly)], logger, ct);
        }
        else
        {
            await using var owner = NpgsqlDataSource.Create(ownerConnection);
            await SqlMigrationRunner.ApplyAsync(owner, [new ModuleMigrations("vault", typeof(VaultStartup).Assembly)], logger, ct);
            var servingRole = new NpgsqlConnectionStringBuilder(config.GetConnectionString("Vault")).Username;
            var ownerRole = new NpgsqlConnectionStringBuilder(ownerConnection).Username;
            if (servingRole is not null && servingRole != ownerRole)
            {
                await GrantAsync(owner, servingRole, ct);
            }
        }

        _ = services.GetRequiredService<Kek>(); // throws without a valid KEK
        var probe = services.GetRequiredService<IDataProtectionProvider>().CreateProtector("startup-probe.v1");
        if (probe.Unprotect(probe.Protect([42])) is not [42])
        {
            throw new InvalidOperationException("Data Protection did not round-trip.");
        }
        _ = services.GetRequiredService<CardKeyRing>().Current; // a card key exists before the first card
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex RoleName();

    private static async Task GrantAsync(NpgsqlDataSource owner, string role, CancellationToken ct)
    {
        if (!RoleName().IsMatch(role))
        {
            throw new InvalidOperationException("The Vault's serving role name must be a plain lower-case identifier.");
        }
        await using var cmd = owner.CreateCommand($"""
            GRANT USAGE ON SCHEMA vault TO "{role}";
            REVOKE ALL ON ALL TABLES IN SCHEMA vault FROM "{role}";
            GRANT SELECT, INSERT ON vault.audit_log, vault.data_protection_keys TO "{role}";
            GRANT SELECT, INSERT, UPDATE, DELETE ON vault.cards TO "{role}";
            GRANT SELECT, INSERT, UPDATE ON vault.tokenization_intents TO "{role}";
            GRANT SELECT, INSERT, UPDATE, DELETE ON vault.acquirer_attempts TO "{role}";
            GRANT SELECT ON vault.schema_migrations TO "{role}";
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA vault TO "{role}";
            """);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
