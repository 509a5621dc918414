using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.Vault.Crypto;

namespace Payments.Vault;

/// <summary>
/// The Vault's database set-up in two steps. <c>MigrateAsync</c> is the one-shot step (<c>vault migrate</c>,
/// run by run.sh before the Vault serves): as the owner role it applies the migrations and grants the serving role
/// only what it needs (audit and key rows are SELECT/INSERT only), then the process exits. The serving process never
/// holds the owner credential: <see cref="PrepareAsync"/> only checks that the schema is at the version this build
/// expects, checks the KEK, and makes sure a key exists and round-trips, so a misconfigured Vault fails at start, not
/// at the first card. See docs/adr/0021-vault-database-roles.md and docs/adr/0111-vault-migrations-are-a-one-shot-step.md.
/// </summary>
internal sealed partial class VaultStartup(IServiceProvider services) : IHostedService
{
    private const string OwnerConnectionName = "VaultMigrations";

    public Task StartAsync(CancellationToken cancellationToken) => PrepareAsync(services, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Before serving or running an operator verb: schema version, KEK, a usable key.</summary>
    public static async Task PrepareAsync(IServiceProvider services, CancellationToken ct)
    {
        var config = services.GetRequiredService<IConfiguration>();
        if (!string.IsNullOrEmpty(config.GetConnectionString(OwnerConnectionName)))
        {
            // The owner can drop the append-only triggers; only the one-shot migration step may hold it.
            throw new InvalidOperationException(
                $"ConnectionStrings:{OwnerConnectionName} (the owner role) must not be given to a serving Vault: run 'vault migrate' with it, then serve without it.");
        }
        await CheckSchemaAsync(services.GetRequiredService<NpgsqlDataSource>(), ct);

        _ = services.GetRequiredService<Kek>(); // throws without a valid KEK
        // The KEK must be the current version's (docs/adr/0125); the keys wrapped under it exist before the first card.
        await services.GetRequiredService<KekCustody>().CheckAsync(ct);
        services.GetRequiredService<Fingerprints>().EnsureRoot();
        _ = services.GetRequiredService<Audit.IAuditKey>().Current;
        var probe = services.GetRequiredService<IDataProtectionProvider>().CreateProtector("startup-probe.v1");
        if (probe.Unprotect(probe.Protect([42])) is not [42])
        {
            throw new InvalidOperationException("Data Protection did not round-trip.");
        }
        _ = services.GetRequiredService<CardKeyRing>().Current; // a card key exists before the first card
    }

    /// <summary>
    /// <c>vault migrate</c>: applies the migrations as the owner role (<c>ConnectionStrings:VaultMigrations</c>) and
    /// grants the serving role (the user name of <c>ConnectionStrings:Vault</c>; its password is not needed here).
    /// </summary>
    public static Task MigrateAsync(IServiceProvider services, CancellationToken ct)
    {
        var config = services.GetRequiredService<IConfiguration>();
        var owner = config.GetConnectionString(OwnerConnectionName);
        if (string.IsNullOrEmpty(owner))
        {
            throw new InvalidOperationException($"'vault migrate' needs ConnectionStrings:{OwnerConnectionName} (the owner role).");
        }
        var servingRole = new NpgsqlConnectionStringBuilder(config.GetConnectionString("Vault")).Username;
        return MigrateAsync(owner, servingRole, services.GetRequiredService<ILogger<VaultStartup>>(), ct);
    }

    /// <summary>The migration step itself; the test kit calls it before it starts a Vault.</summary>
    public static async Task MigrateAsync(string ownerConnectionString, string? servingRole, ILogger logger, CancellationToken ct)
    {
        await using var owner = NpgsqlDataSource.Create(ownerConnectionString);
        await SqlMigrationRunner.ApplyAsync(owner, [new ModuleMigrations("vault", typeof(VaultStartup).Assembly)], logger, ct);
        var ownerRole = new NpgsqlConnectionStringBuilder(ownerConnectionString).Username;
        if (!string.IsNullOrEmpty(servingRole) && servingRole != ownerRole)
        {
            await GrantAsync(owner, servingRole, ct);
        }
    }

    /// <summary>Every migration of this build is applied, unchanged: the serving role cannot migrate, so it refuses to run on an older schema.</summary>
    private static async Task CheckSchemaAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        var applied = new Dictionary<int, string>();
        try
        {
            await using var cmd = db.CreateCommand("SELECT version, sha256 FROM vault.schema_migrations");
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                applied[r.GetInt32(0)] = r.GetString(1);
            }
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
        {
            throw new InvalidOperationException("The Vault's schema is missing: run 'vault migrate' (./run.sh does) before serving.", e);
        }
        foreach (var (version, sha) in ExpectedMigrations())
        {
            if (!applied.TryGetValue(version, out var existing) || existing != sha)
            {
                throw new InvalidOperationException(
                    $"The Vault's schema is not at the version this build expects (migration {version}): run 'vault migrate' (./run.sh does) before serving.");
            }
        }
    }

    private static IEnumerable<(int Version, string Sha256)> ExpectedMigrations()
    {
        var assembly = typeof(VaultStartup).Assembly;
        const string marker = ".Data.Migrations.";
        foreach (var name in assembly.GetManifestResourceNames())
        {
            var at = name.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0 || !name.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }
            var file = name[(at + marker.Length)..].TrimStart('_');
            var version = int.Parse(new string(file.TakeWhile(char.IsAsciiDigit).ToArray()), CultureInfo.InvariantCulture);
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!, Encoding.UTF8);
            yield return (version, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(reader.ReadToEnd()))));
        }
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
            GRANT SELECT, UPDATE ON vault.intent_success_cursor TO "{role}";
            GRANT EXECUTE ON FUNCTION vault.purge_audit_log(bigint) TO "{role}";
            GRANT SELECT, INSERT ON vault.wrapped_keys TO "{role}";
            GRANT SELECT ON vault.kek_versions, vault.card_key_policy TO "{role}";
            GRANT EXECUTE ON FUNCTION vault.kek_register_first(text), vault.kek_begin_rotation(int, text),
                vault.rewrap_wrapped_key(uuid, bytea, int), vault.rewrap_data_protection_key(bigint, text, bytea, int),
                vault.kek_finish_rotation(int), vault.set_card_key_min_decryption(uuid), vault.destroy_card_key(uuid),
                vault.forget_merchant(text) TO "{role}";
            GRANT SELECT, INSERT, UPDATE ON vault.operator_requests TO "{role}";
            GRANT SELECT, INSERT, UPDATE, DELETE ON vault.approvals TO "{role}";
            """);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
