using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Payments.BuildingBlocks.Ids;
using Payments.TestKit;
using Payments.Vault.Contracts;

namespace Payments.Vault.Tests;

/// <summary>
/// A gateway whose Vault runs as it does in production: the one-shot migration step as the owner role, then serving
/// as a separate role with only the grants that step gives it (the serving Vault never gets the owner's credential).
/// </summary>
public class VaultFixture : GatewayFixture
{
    public string ServingRole { get; } = "vault_srv_" + Guid.NewGuid().ToString("N")[..12];
    public string ServingConnectionString { get; private set; } = "";
    public IReadOnlyDictionary<string, string?> VaultSettings { get; private set; } = new Dictionary<string, string?>();

    protected override void ConfigureVault(Dictionary<string, string?> settings)
    {
        var owner = settings["ConnectionStrings:Vault"]!;
        var database = new NpgsqlConnectionStringBuilder(owner).Database;
        using (var conn = new NpgsqlConnection(Postgres.AdminConnectionString))
        {
            conn.Open();
            using var cmd = new NpgsqlCommand(
                $"CREATE ROLE {ServingRole} LOGIN PASSWORD 'serving'; GRANT CONNECT ON DATABASE \"{database}\" TO {ServingRole};", conn);
            cmd.ExecuteNonQuery();
        }
        ServingConnectionString = new NpgsqlConnectionStringBuilder(owner) { Username = ServingRole, Password = "serving" }.ConnectionString;
        VaultStartup.MigrateAsync(owner, ServingRole, NullLogger.Instance, CancellationToken.None).GetAwaiter().GetResult();
        settings["ConnectionStrings:Vault"] = ServingConnectionString;
        VaultSettings = new Dictionary<string, string?>(settings);
    }

    public IVaultClient VaultClient => HostServices.GetRequiredService<IVaultClient>();

    /// <summary>Registers an intent for <paramref name="merchantId"/> straight at the Vault, as the Host does.</summary>
    public async Task<(string IntentId, string Secret)> RegisterIntentAsync(string merchantId, TimeSpan? lifetime = null, string? returnUrl = null)
    {
        var id = PrefixedId.New("tki");
        var secret = id + "_secret_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        await VaultClient.RegisterTokenizationIntentAsync(merchantId, new TokenizationIntentRegistration(
            id, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret))),
            DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromMinutes(30)), returnUrl), CancellationToken.None);
        return (id, secret);
    }

    public async Task<HttpResponseMessage> SubmitCardAsync(string intentId, string secret, string number = "4242424242424242",
        string cvc = "123", int expMonth = 12, int? expYear = null)
    {
        using var vault = Vault.CreateClient();
        return await vault.PostAsJsonAsync($"/v1/tokenization-intents/{intentId}/card",
            CardPost.Body(secret, number, cvc, expMonth, expYear, "Ada Lovelace"));
    }

    /// <summary>A stored card's token, tokenized straight at the Vault.</summary>
    public async Task<string> TokenizeAsync(string merchantId, string number = "4242424242424242", string cvc = "123")
    {
        var (id, secret) = await RegisterIntentAsync(merchantId);
        using var response = await SubmitCardAsync(id, secret, number, cvc);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        return body.GetProperty("card_token").GetString()!;
    }

    public static string NewMerchant() => PrefixedId.New("mer");

    public async Task<T?> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(VaultConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new() { Value = a });
        }
        var result = await cmd.ExecuteScalarAsync();
        return result is DBNull or null ? default : (T)result;
    }

    public async Task<int> ExecAsync(string sql, params object[] args)
    {
        await using var conn = new NpgsqlConnection(VaultConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new() { Value = a });
        }
        return await cmd.ExecuteNonQueryAsync();
    }
}
