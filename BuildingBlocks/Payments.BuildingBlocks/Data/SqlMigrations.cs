using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Payments.BuildingBlocks.Data;

/// <summary>
/// One module's migrations: plain SQL files embedded in its assembly under <c>Data/Migrations/NNNN_name.sql</c>,
/// applied in order into the module's own schema. See docs/adr/0003-plain-sql-migrations.md.
/// </summary>
public sealed record ModuleMigrations(string Schema, Assembly Assembly);

/// <summary>
/// Applies pending migrations once, under an advisory lock, so several processes starting together
/// do not race. An applied file that changed afterwards stops start-up: history is not rewritten.
/// </summary>
public static class SqlMigrationRunner
{
    public static async Task ApplyAsync(NpgsqlDataSource db, IEnumerable<ModuleMigrations> modules, ILogger logger,
        CancellationToken ct = default)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        // Session lock: held across all modules' transactions. Released explicitly: pooled connections are not
        // reset on close (PostgresDataSource), so closing would keep it.
        await ExecAsync(conn, "SELECT pg_advisory_lock(727274001)", ct);
        try
        {
            foreach (var module in modules)
            {
                await ApplyModuleAsync(conn, module, logger, ct);
            }
        }
        finally
        {
            await ExecAsync(conn, "SELECT pg_advisory_unlock(727274001)", CancellationToken.None);
        }
    }

    private static async Task ApplyModuleAsync(NpgsqlConnection conn, ModuleMigrations module, ILogger logger,
        CancellationToken ct)
    {
        var schema = module.Schema;
        await ExecAsync(conn, $"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                version    int PRIMARY KEY,
                name       text NOT NULL,
                sha256     text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now());
            """, ct);

        var applied = new Dictionary<int, string>();
        await using (var cmd = new NpgsqlCommand($"SELECT version, sha256 FROM {schema}.schema_migrations", conn))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                applied[r.GetInt32(0)] = r.GetString(1);
            }
        }

        foreach (var (version, name, sql) in Read(module.Assembly))
        {
            var sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
            if (applied.TryGetValue(version, out var existing))
            {
                if (existing != sha)
                {
                    throw new InvalidOperationException(
                        $"Migration {schema}/{name} changed after it was applied; add a new migration instead.");
                }
                continue;
            }
            await using var tx = await conn.BeginTransactionAsync(ct);
            await using (var cmd = new NpgsqlCommand(sql, conn, tx))
            {
                await cmd.ExecuteNonQueryAsync(ct);
            }
            await using (var cmd = new NpgsqlCommand(
                $"INSERT INTO {schema}.schema_migrations (version, name, sha256) VALUES ($1, $2, $3)", conn, tx))
            {
                cmd.Parameters.Add(new() { Value = version });
                cmd.Parameters.Add(new() { Value = name });
                cmd.Parameters.Add(new() { Value = sha });
                await cmd.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
            logger.LogInformation("Applied migration {Schema}/{Name}", schema, name);
        }
    }

    private static IEnumerable<(int Version, string Name, string Sql)> Read(Assembly assembly)
    {
        var files = assembly.GetManifestResourceNames()
            .Where(n => n.Contains(".Data.Migrations.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n =>
            {
                var file = n[(n.IndexOf(".Data.Migrations.", StringComparison.Ordinal) + ".Data.Migrations.".Length)..];
                var digits = new string(file.TakeWhile(char.IsAsciiDigit).ToArray());
                // Resource names of files starting with a digit get a leading underscore.
                if (digits.Length == 0 && file.StartsWith('_'))
                {
                    file = file[1..];
                    digits = new string(file.TakeWhile(char.IsAsciiDigit).ToArray());
                }
                if (digits.Length == 0)
                {
                    throw new InvalidOperationException($"Migration {n} does not start with a version number.");
                }
                return (Version: int.Parse(digits, System.Globalization.CultureInfo.InvariantCulture), Name: file, Resource: n);
            })
            .OrderBy(f => f.Version)
            .ToList();

        var dup = files.GroupBy(f => f.Version).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
        {
            throw new InvalidOperationException($"Two migrations share version {dup.Key} in {assembly.GetName().Name}.");
        }
        foreach (var f in files)
        {
            using var stream = assembly.GetManifestResourceStream(f.Resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            yield return (f.Version, f.Name, reader.ReadToEnd());
        }
    }

    private static async Task ExecAsync(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
