using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Payments.BuildingBlocks;
using Payments.Tokenization.Contracts;
using Payments.Vault.Contracts;

namespace Payments.Tokenization.Data;

internal sealed record IntentRecord(
    string Id,
    string MerchantId,
    string Status,
    string? ReturnUrl,
    Dictionary<string, string> Metadata,
    string? CardToken,
    CardView? Card,
    DateTimeOffset ExpiresAt,
    DateTimeOffset CreatedAt);

internal sealed record CardView(string Brand, string Last4, int ExpMonth, int ExpYear, string Fingerprint)
{
    public static CardView Of(CardDisplay d) => new(d.Brand, d.Last4, d.ExpMonth, d.ExpYear, d.Fingerprint);
}

/// <summary>The tokenization schema. A transition from <c>REQUIRES_CARD</c> happens once and writes its event in the same transaction.</summary>
internal sealed class IntentStore(NpgsqlDataSource db, TimeProvider clock) : ITokenizationEvents
{
    public async Task InsertAsync(IntentRecord intent, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO tokenization.intents (id, merchant_id, status, return_url, metadata, expires_at, created_at, updated_at)
            VALUES ($1, $2, 'REQUIRES_CARD', $3, $4, $5, $6, $6)
            """);
        cmd.Parameters.Add(new() { Value = intent.Id });
        cmd.Parameters.Add(new() { Value = intent.MerchantId });
        cmd.Parameters.Add(new() { Value = (object?)intent.ReturnUrl ?? DBNull.Value });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(intent.Metadata), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = intent.ExpiresAt });
        cmd.Parameters.Add(new() { Value = intent.CreatedAt });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<IntentRecord?> FindAsync(string merchantId, string id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT id, merchant_id, status, return_url, metadata::text, card_token, card::text, expires_at, created_at
            FROM tokenization.intents WHERE id = $1 AND merchant_id = $2
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = merchantId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            return null;
        }
        return new IntentRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3),
            JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(4)) ?? [],
            r.IsDBNull(5) ? null : r.GetString(5),
            r.IsDBNull(6) ? null : JsonSerializer.Deserialize<CardView>(r.GetString(6), PaymentsJson.Options),
            new DateTimeOffset(r.GetDateTime(7), TimeSpan.Zero), new DateTimeOffset(r.GetDateTime(8), TimeSpan.Zero));
    }

    /// <summary>Moves an intent out of <c>REQUIRES_CARD</c> once; false when it had already left it.</summary>
    public async Task<bool> TransitionAsync(string merchantId, string id, string status, string? cardToken, CardDisplay? card, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var changed = await TransitionAsync(conn, tx, merchantId, id, status, cardToken, card, ct);
        await tx.CommitAsync(ct);
        return changed;
    }

    public async Task<bool> TransitionAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string merchantId, string id, string status,
        string? cardToken, CardDisplay? card, CancellationToken ct)
    {
        // Held to commit: events then commit in sequence order, so a reader's cursor never skips one. Taken before the
        // intent's row: the feed sync transitions several intents in one transaction, and the other order deadlocked
        // it with a read that transitioned one of them (row, then lock, against lock, then row).
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(727274201)", conn, tx))
        {
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        var now = clock.GetUtcNow();
        await using (var cmd = new NpgsqlCommand("""
            UPDATE tokenization.intents SET status = $3, card_token = $4, card = $5, updated_at = $6
            WHERE id = $1 AND merchant_id = $2 AND status = 'REQUIRES_CARD'
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = merchantId });
            cmd.Parameters.Add(new() { Value = status });
            cmd.Parameters.Add(new() { Value = (object?)cardToken ?? DBNull.Value });
            cmd.Parameters.Add(new()
            {
                Value = card is null ? DBNull.Value : JsonSerializer.Serialize(CardView.Of(card), PaymentsJson.Options),
                NpgsqlDbType = NpgsqlDbType.Jsonb,
            });
            cmd.Parameters.Add(new() { Value = now });
            if (await cmd.ExecuteNonQueryAsync(ct) == 0)
            {
                return false;
            }
        }
        await using (var cmd = new NpgsqlCommand("""
            INSERT INTO tokenization.intent_events (intent_id, merchant_id, type, occurred_at, data)
            SELECT id, merchant_id, $2, $3,
                   jsonb_build_object('id', id, 'status', status, 'card_token', card_token, 'card', card,
                                      'return_url', return_url, 'metadata', metadata, 'expires_at', expires_at, 'created_at', created_at)
            FROM tokenization.intents WHERE id = $1
            ON CONFLICT (intent_id, type) DO NOTHING
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = "tokenization_intent." + status.ToLowerInvariant() });
            cmd.Parameters.Add(new() { Value = now });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        return true;
    }

    /// <summary>Marks every intent past its expiry; returns how many.</summary>
    public async Task<int> SweepExpiredAsync(CancellationToken ct)
    {
        await using var find = db.CreateCommand(
            "SELECT id, merchant_id FROM tokenization.intents WHERE status = 'REQUIRES_CARD' AND expires_at <= $1 LIMIT 1000");
        find.Parameters.Add(new() { Value = clock.GetUtcNow() });
        var expired = new List<(string Id, string Merchant)>();
        await using (var r = await find.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                expired.Add((r.GetString(0), r.GetString(1)));
            }
        }
        var count = 0;
        foreach (var (id, merchant) in expired)
        {
            count += await TransitionAsync(merchant, id, "EXPIRED", null, null, ct) ? 1 : 0;
        }
        return count;
    }

    public async Task<IReadOnlyList<TokenizationIntentEvent>> ReadAfterAsync(long afterSequence, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT seq, intent_id, merchant_id, type, occurred_at, data::text FROM tokenization.intent_events
            WHERE seq > $1 ORDER BY seq LIMIT $2
            """);
        cmd.Parameters.Add(new() { Value = afterSequence });
        cmd.Parameters.Add(new() { Value = limit });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<TokenizationIntentEvent>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new TokenizationIntentEvent(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3),
                new DateTimeOffset(r.GetDateTime(4), TimeSpan.Zero), r.GetString(5)));
        }
        return list;
    }
}
