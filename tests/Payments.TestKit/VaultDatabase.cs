using Npgsql;

namespace Payments.TestKit;

/// <summary>Reads of the Vault's own database, for tests that check what the Vault recorded behind the Host.</summary>
public static class VaultDatabase
{
    /// <summary>The first column of the first row as text (null when there is no row or it is NULL).</summary>
    public static async Task<string?> VaultScalarAsync(this GatewayFixture gateway, string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(gateway.VaultConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        }
        return await cmd.ExecuteScalarAsync() is { } value and not DBNull ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }
}
