using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Audit;

namespace Payments.Vault.Crypto;

/// <summary>
/// The KEK's versions (docs/adr/0125, 0126): at start the Vault's KEK must have the check value the database records
/// for the current version, or the Vault refuses to serve; the rotation ceremony rewraps every wrapped key and every
/// Data Protection key row under a new KEK in one transaction, through the vault_keyadmin functions, records the new
/// version and retires the old one.
/// </summary>
internal sealed class KekCustody(NpgsqlDataSource db, Kek kek, AuditLog audit, IOptions<VaultOptions> options, ILogger<KekCustody> logger)
{
    /// <summary>Before serving: records the first KEK (version 1) once, then requires the current version's check value.</summary>
    public async Task CheckAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var (version, kcv) = await CurrentAsync(conn, ct);
        if (version == 0)
        {
            await RefuseAForeignKekAsync(conn, ct);
            await using (var register = new NpgsqlCommand("SELECT vault.kek_register_first($1)", conn))
            {
                register.Parameters.Add(new() { Value = kek.Kcv });
                await register.ExecuteNonQueryAsync(ct);
            }
            (version, kcv) = await CurrentAsync(conn, ct);
        }
        if (kcv != kek.Kcv)
        {
            throw new InvalidOperationException(
                $"The KEK's check value {kek.Kcv} does not match KEK version {version} in the database ({kcv}): a component is wrong, " +
                "or the components of a retired KEK were given. The Vault refuses to serve (docs/crypto-architecture.md, 'KEK rotation').");
        }
        kek.Version = version;
        if (options.Value.Kek.DevelopmentDefault)
        {
            logger.LogWarning(
                "KEK version {KekVersion} (check value {Kcv}) uses the development default: ./run.sh generated all {Count} components on this machine, so one person holds them all. " +
                "In production each custodian provides their own component file (docs/crypto-architecture.md)", version, kek.Kcv, kek.ComponentKcvs.Count);
        }
        else
        {
            logger.LogInformation("KEK version {KekVersion} (check value {Kcv}) from {Count} components", version, kek.Kcv, kek.ComponentKcvs.Count);
        }
    }

    /// <summary>
    /// The ceremony: everything under <paramref name="next"/> in one transaction, or nothing. The serving Vault keeps
    /// running on the old KEK until it is restarted with the new components (it can no longer add keys meanwhile).
    /// </summary>
    public async Task<KekRotated> RotateAsync(Kek next, CancellationToken ct)
    {
        if (next.Kcv == kek.Kcv)
        {
            throw new InvalidOperationException("The new components combine to the current KEK.");
        }
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        int version;
        await using (var begin = new NpgsqlCommand("SELECT vault.kek_begin_rotation($1, $2)", conn, tx))
        {
            begin.Parameters.Add(new() { Value = kek.Version });
            begin.Parameters.Add(new() { Value = next.Kcv });
            version = (int)(await begin.ExecuteScalarAsync(ct))!;
        }
        next.Version = version;

        var rows = new List<WrappedKeyRow>();
        await using (var select = new NpgsqlCommand(
                         "SELECT id, purpose, scope, version, kek_version, wrapped, check_value FROM vault.wrapped_keys WHERE destroyed_at IS NULL ORDER BY id", conn, tx))
        await using (var r = await select.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                rows.Add(WrappedKeys.ReadRow(r));
            }
        }
        foreach (var row in rows)
        {
            var key = WrappedKeys.Unwrap(kek, row); // verifies the check value: a damaged key is not carried over
            var wrapped = WrappedKeys.Wrap(next, version, row.Id, row.Purpose, row.Scope, row.Version, key);
            CryptographicOperations.ZeroMemory(key);
            await using var rewrap = new NpgsqlCommand("SELECT vault.rewrap_wrapped_key($1, $2, $3)", conn, tx);
            rewrap.Parameters.Add(new() { Value = row.Id });
            rewrap.Parameters.Add(new() { Value = wrapped });
            rewrap.Parameters.Add(new() { Value = version });
            await rewrap.ExecuteNonQueryAsync(ct);
        }

        var keyRows = new List<(long Id, string Name, string Xml, byte[] Mac)>();
        await using (var select = new NpgsqlCommand(
                         "SELECT id, friendly_name, xml, mac FROM vault.data_protection_keys WHERE destroyed_at IS NULL ORDER BY id", conn, tx))
        await using (var r = await select.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                keyRows.Add((r.GetInt64(0), r.GetString(1), r.GetString(2), (byte[])r[3]));
            }
        }
        foreach (var row in keyRows)
        {
            if (!CryptographicOperations.FixedTimeEquals(row.Mac, PostgresXmlRepository.Mac(kek, row.Name, row.Xml)))
            {
                // A row written behind the Vault's back is never carried under the new KEK; the operator looks first.
                throw new InvalidOperationException($"Key ring row {row.Id} fails its MAC: investigate it before rotating the KEK.");
            }
            var xml = PostgresXmlRepository.Rewrap(row.Xml, kek, next);
            await using var rewrap = new NpgsqlCommand("SELECT vault.rewrap_data_protection_key($1, $2, $3, $4)", conn, tx);
            rewrap.Parameters.Add(new() { Value = row.Id });
            rewrap.Parameters.Add(new() { Value = xml });
            rewrap.Parameters.Add(new() { Value = PostgresXmlRepository.Mac(next, row.Name, xml) });
            rewrap.Parameters.Add(new() { Value = version });
            await rewrap.ExecuteNonQueryAsync(ct);
        }

        await using (var finish = new NpgsqlCommand("SELECT vault.kek_finish_rotation($1)", conn, tx))
        {
            finish.Parameters.Add(new() { Value = version });
            await finish.ExecuteNonQueryAsync(ct);
        }
        var result = new KekRotated(kek.Version, version, next.Kcv, next.ComponentKcvs, rows.Count, keyRows.Count);
        await audit.AppendAsync(conn, tx, "kek.rotated", null, version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            new Dictionary<string, object?>
            {
                ["retired_version"] = result.RetiredVersion, ["kcv"] = result.Kcv, ["component_kcvs"] = result.ComponentKcvs,
                ["wrapped_keys"] = result.WrappedKeys, ["key_ring_rows"] = result.KeyRingRows,
            }, ct);
        await tx.CommitAsync(ct);
        logger.LogWarning("KEK rotated from version {From} to {To} (check value {Kcv}): restart every Vault with the new components",
            result.RetiredVersion, version, next.Kcv);
        return result;
    }

    private static async Task<(int Version, string? Kcv)> CurrentAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT version, check_value FROM vault.kek_versions WHERE retired_at IS NULL", conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (r.GetInt32(0), r.GetString(1)) : (0, null);
    }

    /// <summary>
    /// A database that had keys before KEK versions were recorded: the first KEK recorded must be the one they are
    /// under (a key ring row's MAC proves it), or a wrong component would become version 1.
    /// </summary>
    private async Task RefuseAForeignKekAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT friendly_name, xml, mac FROM vault.data_protection_keys WHERE destroyed_at IS NULL ORDER BY id", conn);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var any = false;
        while (await r.ReadAsync(ct))
        {
            any = true;
            if (CryptographicOperations.FixedTimeEquals((byte[])r[2], PostgresXmlRepository.Mac(kek, r.GetString(0), r.GetString(1))))
            {
                return;
            }
        }
        if (any)
        {
            throw new InvalidOperationException(
                $"The KEK (check value {kek.Kcv}) is not the one the stored keys are under: no key ring row verifies. The Vault refuses to serve.");
        }
    }
}

internal sealed record KekRotated(int RetiredVersion, int Version, string Kcv, IReadOnlyList<string> ComponentKcvs, int WrappedKeys, int KeyRingRows);
