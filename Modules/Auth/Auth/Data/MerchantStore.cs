using Npgsql;
using Payments.Auth.Authentication;
using Payments.BuildingBlocks.Ids;

namespace Payments.Auth.Data;

internal sealed record ApiClient(string ClientId, string MerchantId, string SecretHash, string? PreviousSecretHash, DateTimeOffset? PreviousValidUntil);

internal sealed record CreatedCredentials(string MerchantId, string ClientId, string ClientSecret);

internal sealed class MerchantStore(NpgsqlDataSource db, SecretHasher hasher, TimeProvider clock)
{
    public async Task<CreatedCredentials> CreateMerchantAsync(string name, CancellationToken ct)
    {
        var merchantId = PrefixedId.New("mer", clock);
        var clientId = PrefixedId.New("cli", clock);
        var secret = SecretHasher.NewSecret();
        var hash = hasher.Hash(secret);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("INSERT INTO auth.merchants (id, name, created_at) VALUES ($1, $2, $3)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = merchantId });
            cmd.Parameters.Add(new() { Value = name });
            cmd.Parameters.Add(new() { Value = clock.GetUtcNow() });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new NpgsqlCommand(
            "INSERT INTO auth.api_clients (client_id, merchant_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = clientId });
            cmd.Parameters.Add(new() { Value = merchantId });
            cmd.Parameters.Add(new() { Value = hash });
            cmd.Parameters.Add(new() { Value = clock.GetUtcNow() });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return new CreatedCredentials(merchantId, clientId, secret);
    }

    /// <summary>A new secret for the client; the current one stays valid for <paramref name="grace"/>. Null when unknown.</summary>
    public async Task<(CreatedCredentials Credentials, DateTimeOffset PreviousValidUntil)?> RotateSecretAsync(
        string clientId, TimeSpan grace, CancellationToken ct)
    {
        var secret = SecretHasher.NewSecret();
        var hash = hasher.Hash(secret);
        var now = clock.GetUtcNow();
        var until = now + grace;
        // The secret being replaced becomes the previous one; an older previous one ends now.
        await using var cmd = db.CreateCommand("""
            UPDATE auth.api_clients
               SET previous_secret_hash = secret_hash, previous_valid_until = $3, secret_hash = $2, rotated_at = $4
             WHERE client_id = $1
            RETURNING merchant_id
            """);
        cmd.Parameters.Add(new() { Value = clientId });
        cmd.Parameters.Add(new() { Value = hash });
        cmd.Parameters.Add(new() { Value = until });
        cmd.Parameters.Add(new() { Value = now });
        var merchantId = (string?)await cmd.ExecuteScalarAsync(ct);
        return merchantId is null ? null : (new CreatedCredentials(merchantId, clientId, secret), until);
    }

    public async Task<ApiClient?> FindClientAsync(string clientId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT client_id, merchant_id, secret_hash, previous_secret_hash, previous_valid_until FROM auth.api_clients WHERE client_id = $1");
        cmd.Parameters.Add(new() { Value = clientId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            return null;
        }
        return new ApiClient(r.GetString(0), r.GetString(1), r.GetString(2),
            r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4));
    }
}
