using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using Payments.Vault.Acquirer;
using Payments.Vault.Audit;
using Payments.Vault.Contracts;
using Payments.Vault.Crypto;
using Payments.Vault.Observability;

namespace Payments.Vault.Cards;

/// <summary>
/// Everything the Vault does with cards: store one for a tokenization intent, show its display data, use it with
/// the acquirer, destroy it. Every tokenization and card use writes its audit row in the same transaction.
/// </summary>
internal sealed class CardVault(
    NpgsqlDataSource db,
    CardCipher cipher,
    Fingerprints fingerprints,
    CvcStore cvcs,
    AuditLog audit,
    AcquirerAttempts attempts,
    Approvals approvals,
    TimeProvider clock,
    ILogger<CardVault> logger,
    IConfiguration config)
{
    public const int MaxFailedAttempts = 5;

    /// <summary>Test-only: the process dies right after a card is decrypted. Never honoured in live mode.</summary>
    private readonly bool crashAfterDecryption = config.GetValue<bool>("Vault:Testing:CrashAfterDecryption")
                                                 && !Payments.BuildingBlocks.Hosting.LiveModeGuard.IsLive(config);

    public async Task RegisterIntentAsync(string merchantId, TokenizationIntentRegistration intent, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO vault.tokenization_intents (intent_id, merchant_id, client_secret_sha256, expires_at, return_url, metadata, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now())) ON CONFLICT (intent_id) DO NOTHING
            """);
        cmd.Parameters.Add(new() { Value = intent.IntentId });
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = intent.ClientSecretSha256 });
        cmd.Parameters.Add(new() { Value = intent.ExpiresAt });
        cmd.Parameters.Add(new() { Value = (object?)intent.ReturnUrl ?? DBNull.Value });
        cmd.Parameters.Add(new()
        {
            NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb,
            Value = intent.Metadata is null ? DBNull.Value : JsonSerializer.Serialize(intent.Metadata),
        });
        cmd.Parameters.Add(new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = (object?)intent.CreatedAt ?? DBNull.Value });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<IntentRow?> FindIntentAsync(string intentId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await ReadIntentAsync(conn, null, intentId, forUpdate: false, ct);
    }

    public async Task<TokenizationIntentState?> GetIntentStateAsync(string merchantId, string intentId, CancellationToken ct)
    {
        var row = await FindIntentAsync(intentId, ct);
        if (row is null || row.MerchantId != merchantId)
        {
            if (row is not null)
            {
                await AuditProbeAsync(merchantId, intentId, row.MerchantId, "intent.read");
            }
            return null;
        }
        var card = row.CardToken is null ? null : await GetCardAsync(merchantId, row.CardToken, ct);
        return new TokenizationIntentState(row.IntentId, StatusOf(row), row.CardToken, card, row.FailedAttempts);
    }

    public async Task<IReadOnlyList<TokenizationIntentSuccess>> ListSucceededAsync(long afterSequence, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT i.succeeded_seq, i.merchant_id, i.intent_id, i.card_token, i.updated_at,
                   c.brand, c.last4, c.exp_month, c.exp_year, c.fingerprint
            FROM vault.tokenization_intents i LEFT JOIN vault.cards c ON c.token = i.card_token
            WHERE i.succeeded_seq > $1 ORDER BY i.succeeded_seq LIMIT $2
            """);
        cmd.Parameters.Add(new() { Value = afterSequence });
        cmd.Parameters.Add(new() { Value = limit });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<TokenizationIntentSuccess>();
        while (await r.ReadAsync(ct))
        {
            // A card deleted since still shows what was tokenized, minus what is gone.
            var card = r.IsDBNull(5) ? null : new CardDisplay(r.GetString(5), r.GetString(6), r.GetInt32(7), r.GetInt32(8), r.GetString(9));
            list.Add(new TokenizationIntentSuccess(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), card,
                new DateTimeOffset(r.GetDateTime(4), TimeSpan.Zero)));
        }
        return list;
    }

    public string StatusOf(IntentRow row) =>
        row.Status == "REQUIRES_CARD" && row.ExpiresAt <= clock.GetUtcNow() ? "EXPIRED" : row.Status;

    public static bool SecretMatches(IntentRow row, string? clientSecret)
    {
        if (string.IsNullOrEmpty(clientSecret) || clientSecret.Length > 200)
        {
            return false;
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(clientSecret)));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(hash), Encoding.ASCII.GetBytes(row.ClientSecretSha256));
    }

    /// <summary>Stores the card for an intent that still requires one; the caller validated the data and the secret.</summary>
    public async Task<SubmitOutcome> SubmitAsync(string intentId, string clientSecret, CardSubmission? card,
        IReadOnlyDictionary<string, string[]> errors, CancellationToken ct)
    {
        // The card is sealed before this call holds a connection: the merchant's data key may have to be read or made
        // first (with a connection of its own), and a submit holding one connection while waiting for a second would
        // exhaust the pool when many submit at once. An intent's merchant never changes, so the row read under the
        // lock below only has to confirm it.
        Sealed? sealedCard = null;
        if (errors.Count == 0 && card is not null && await FindIntentAsync(intentId, ct) is { } peek && SecretMatches(peek, clientSecret)
            && StatusOf(peek) == "REQUIRES_CARD")
        {
            sealedCard = await SealAsync(peek.MerchantId, card, ct);
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await ReadIntentAsync(conn, tx, intentId, forUpdate: true, ct);
        if (row is null || !SecretMatches(row, clientSecret))
        {
            return new SubmitOutcome(SubmitResult.NotFound, null, null);
        }
        var status = StatusOf(row);
        if (status != "REQUIRES_CARD")
        {
            return new SubmitOutcome(status switch
            {
                "SUCCEEDED" => SubmitResult.Succeeded,
                "FAILED" => SubmitResult.Failed,
                _ => SubmitResult.Expired,
            }, row, null);
        }

        if (errors.Count > 0 || card is null)
        {
            var attempts = row.FailedAttempts + 1;
            await using (var cmd = new NpgsqlCommand("""
                UPDATE vault.tokenization_intents
                SET failed_attempts = $2, status = CASE WHEN $2 >= 5 THEN 'FAILED' ELSE status END, updated_at = now()
                WHERE intent_id = $1
                """, conn, tx))
            {
                cmd.Parameters.Add(new() { Value = intentId });
                cmd.Parameters.Add(new() { Value = attempts });
                await cmd.ExecuteNonQueryAsync(ct);
            }
            await audit.AppendAsync(conn, tx, "tokenization.refused", row.MerchantId, intentId,
                new Dictionary<string, object?> { ["fields"] = errors.Keys.Order().ToArray(), ["failed_attempts"] = attempts }, ct);
            await tx.CommitAsync(ct);
            return new SubmitOutcome(SubmitResult.Invalid, row with { FailedAttempts = attempts, Status = attempts >= MaxFailedAttempts ? "FAILED" : row.Status }, null);
        }

        if (sealedCard is null || sealedCard.MerchantId != row.MerchantId)
        {
            // The intent changed state between the look before and the lock (another submit, an expiry): start over.
            await tx.RollbackAsync(ct);
            await conn.CloseAsync();
            return await SubmitAsync(intentId, clientSecret, card, errors, ct);
        }
        var (_, token, ciphertext, display) = sealedCard;
        var keyId = CardCipher.KeyIdOf(ciphertext);

        await audit.AppendAsync(conn, tx, "card.tokenized", row.MerchantId, token, new Dictionary<string, object?>
        {
            ["intent_id"] = intentId, ["brand"] = display.Brand, ["last4"] = display.Last4, ["key_id"] = keyId,
        }, ct);
        await using (var cmd = new NpgsqlCommand("""
            INSERT INTO vault.cards (token, merchant_id, fingerprint, brand, last4, exp_month, exp_year, key_id, ciphertext)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = token });
            cmd.Parameters.Add(new() { Value = row.MerchantId });
            cmd.Parameters.Add(new() { Value = display.Fingerprint });
            cmd.Parameters.Add(new() { Value = display.Brand });
            cmd.Parameters.Add(new() { Value = display.Last4 });
            cmd.Parameters.Add(new() { Value = card.ExpMonth });
            cmd.Parameters.Add(new() { Value = card.ExpYear });
            cmd.Parameters.Add(new() { Value = keyId });
            cmd.Parameters.Add(new() { Value = ciphertext });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        // The feed's own gap-free cursor (docs/adr/0123): a rolled-back submit gives its number back, and the counter's
        // row lock, held to commit, makes the numbers commit in order, so the Host's cursor never skips a success.
        await using (var cmd = new NpgsqlCommand("""
            WITH next AS (UPDATE vault.intent_success_cursor SET last = last + 1 RETURNING last)
            UPDATE vault.tokenization_intents
            SET status = 'SUCCEEDED', card_token = $2, updated_at = now(), succeeded_seq = (SELECT last FROM next)
            WHERE intent_id = $1
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = intentId });
            cmd.Parameters.Add(new() { Value = token });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        cvcs.Put(token, card.Cvc);
        return new SubmitOutcome(SubmitResult.Stored, row with { Status = "SUCCEEDED", CardToken = token }, display);
    }

    /// <summary>A new token and the card sealed under it for the merchant, with what may be shown of it.</summary>
    private async Task<Sealed> SealAsync(string merchantId, CardSubmission card, CancellationToken ct)
    {
        var token = CardRules.NewToken();
        var plaintext = JsonSerializer.SerializeToUtf8Bytes(new StoredCard(card.Number, card.ExpMonth, card.ExpYear, card.HolderName));
        try
        {
            var ciphertext = await cipher.ProtectAsync(merchantId, token, plaintext, ct);
            return new Sealed(merchantId, token, ciphertext, new CardDisplay(CardRules.BrandOf(card.Number), card.Number[^4..],
                card.ExpMonth, card.ExpYear, fingerprints.Of(merchantId, card.Number)));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private sealed record Sealed(string MerchantId, string Token, byte[] Ciphertext, CardDisplay Display);

    public async Task<CardDisplay?> GetCardAsync(string merchantId, string token, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT brand, last4, exp_month, exp_year, fingerprint FROM vault.cards WHERE token = $1 AND merchant_id = $2");
        cmd.Parameters.Add(new() { Value = token });
        cmd.Parameters.Add(new() { Value = merchantId });
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            if (await r.ReadAsync(ct))
            {
                return new CardDisplay(r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetInt32(3), r.GetString(4));
            }
        }
        await ProbeAsync(merchantId, token, "card.read", ct);
        return null;
    }

    /// <summary>
    /// A merchant asked for a token that exists under another merchant: the Host's checks failed or were bypassed,
    /// or someone guesses tokens. Audited as a failed access (PCI DSS 10.2.1.4); the caller still just sees "not found".
    /// </summary>
    private async Task ProbeAsync(string merchantId, string token, string attempted, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT merchant_id FROM vault.cards WHERE token = $1");
        cmd.Parameters.Add(new() { Value = token });
        if (await cmd.ExecuteScalarAsync(ct) is string owner && owner != merchantId)
        {
            await AuditProbeAsync(merchantId, token, owner, attempted);
        }
    }

    private Task AuditProbeAsync(string merchantId, string subject, string owner, string attempted) =>
        audit.AppendAsync("access.cross_merchant", merchantId, subject, new Dictionary<string, object?>
        {
            ["attempted"] = attempted, ["owner_merchant_id"] = owner,
        });

    public async Task<bool> DeleteCardAsync(string merchantId, string token, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("DELETE FROM vault.cards WHERE token = $1 AND merchant_id = $2", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = token });
            cmd.Parameters.Add(new() { Value = merchantId });
            if (await cmd.ExecuteNonQueryAsync(ct) == 0)
            {
                await tx.RollbackAsync(ct);
                await ProbeAsync(merchantId, token, "card.delete", ct);
                return false;
            }
        }
        await audit.AppendAsync(conn, tx, "card.deleted", merchantId, token, new Dictionary<string, object?>(), ct);
        await tx.CommitAsync(ct);
        cvcs.Forget(token);
        return true;
    }

    public Task<AcquirerOutcome> AuthorizeAsync(string merchantId, AcquirerRequest request, CancellationToken ct) =>
        VaultTelemetry.UseCardAsync(request.Capture ? "card.authcap" : "card.authorize",
            () => UseCardAsync(merchantId, request, request.Capture ? "card.authcap" : "card.authorize", ct));

    public Task<AcquirerOutcome> RefundAsync(string merchantId, AcquirerRequest request, CancellationToken ct) =>
        VaultTelemetry.UseCardAsync("card.refund", () => UseCardAsync(merchantId, request, "card.refund", ct));

    private async Task<AcquirerOutcome> UseCardAsync(string merchantId, AcquirerRequest request, string action, CancellationToken ct)
    {
        var notFound = new AcquirerOutcome(false, false, null, null, null, null);
        await using var conn = await db.OpenConnectionAsync(ct);
        string? brand = null, last4 = null;
        byte[]? ciphertext = null;
        // The use is the card's last use (for retention, ADR 132): written at most once a day per card.
        await using (var cmd = new NpgsqlCommand("""
            WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)),
                 touched AS (UPDATE vault.cards SET last_used_at = now() FROM async_commit
                              WHERE token = $1 AND merchant_id = $2 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 day'))
            SELECT brand, last4, ciphertext FROM vault.cards WHERE token = $1 AND merchant_id = $2
            """, conn))
        {
            cmd.Parameters.Add(new() { Value = request.CardToken });
            cmd.Parameters.Add(new() { Value = merchantId });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct))
            {
                brand = r.GetString(0);
                last4 = r.GetString(1);
                ciphertext = (byte[])r[2];
            }
        }
        if (ciphertext is null)
        {
            // The card is gone (or never was this merchant's). A retry of a use the acquirer already answered still
            // gets that answer: a refund made before the card was deleted must still be booked.
            if (request.AttemptKey is not { } retried || await attempts.FindAnsweredAsync(conn, merchantId, retried, action, request, ct) is not { } made)
            {
                await conn.CloseAsync();
                await ProbeAsync(merchantId, request.CardToken, action, ct);
                return notFound;
            }
            await conn.CloseAsync();
            await AuditRepeatAsync(action, merchantId, request, made);
            return new AcquirerOutcome(true, made.Approved, made.AuthorizationCode, made.DeclineCode, null, null, made.AnsweredAt);
        }

        await conn.CloseAsync();

        // Batch A (docs/adr/0122): the reservation and the "use started" row commit durably before the card is
        // decrypted, so a use that crashes from here on is still on record.
        var started = audit.Entry("card_use.started", merchantId, request.CardToken, new Dictionary<string, object?>
        {
            ["operation"] = action, ["reference"] = request.Reference, ["amount"] = request.Amount, ["currency"] = request.Currency,
        });
        if (request.AttemptKey is { } key)
        {
            // Reserved before the acquirer is asked, so a retry never reaches it a second time.
            var reserved = await audit.CommitAsync([attempts.ReserveCommand(merchantId, key, action, request)], started, rows => rows[0] == 1);
            if (reserved[0] != 1)
            {
                await using var again = await db.OpenConnectionAsync(ct);
                switch (await attempts.ClassifyAsync(again, merchantId, key, action, request, ct))
                {
                    case Reservation.Mismatch:
                        throw new AttemptKeyReusedException();
                    case Reservation.Answered { Attempt: var earlier }:
                        // A retry of a use already answered: the same answer, without the card data or the acquirer;
                        // refused for now while the Host has its approval held for reversal (ADR 133).
                        if (earlier.Approved && action != "card.refund" &&
                            !await approvals.NoteRepeatAsync(again, merchantId, key, request.Reference, ct))
                        {
                            throw new AttemptInProgressException();
                        }
                        await again.CloseAsync();
                        await AuditRepeatAsync(action, merchantId, request, earlier);
                        return new AcquirerOutcome(true, earlier.Approved, earlier.AuthorizationCode, earlier.DeclineCode, brand, last4,
                            earlier.AnsweredAt);
                    default:
                        throw new AttemptInProgressException();
                }
            }
        }
        else
        {
            await audit.CommitAsync([], started);
        }

        StoredCard stored;
        try
        {
            // Not cancelled: the reservation is durable, so this call settles it either way.
            var plaintext = await cipher.UnprotectAsync(merchantId, request.CardToken, ciphertext, CancellationToken.None);
            stored = JsonSerializer.Deserialize<StoredCard>(plaintext)!;
            CryptographicOperations.ZeroMemory(plaintext);
        }
        catch (CryptographicException)
        {
            // Altered, swapped or under a revoked key: never sent to the acquirer.
            logger.LogCritical("Card data of a token did not decrypt; it is refused");
            await audit.CommitAsync(ReleaseOf(merchantId, request),
                audit.Entry("card.unreadable", merchantId, request.CardToken, new Dictionary<string, object?> { ["reference"] = request.Reference }));
            return notFound;
        }
        catch (Exception e) when (request.AttemptKey is not null)
        {
            // The key could not be read now (the database is away, say): nothing was asked, so the reservation is
            // given back at once and a retry goes ahead, instead of being refused as "in progress" until the
            // reservation counts as abandoned (which is still the fallback when the release fails as well).
            logger.LogWarning("A card use failed before the acquirer was asked; its attempt key is released: {Error}", e.GetType().Name);
            try
            {
                await audit.CommitAsync(ReleaseOf(merchantId, request),
                    audit.Entry("card_use.failed", merchantId, request.CardToken, new Dictionary<string, object?>
                    {
                        ["reference"] = request.Reference, ["error"] = e.GetType().Name,
                    }));
            }
            catch (Exception release) when (release is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                logger.LogWarning("Releasing the attempt key failed too; it is taken over once abandoned: {Error}", release.GetType().Name);
            }
            throw;
        }
        if (crashAfterDecryption)
        {
            Environment.FailFast("Vault:Testing:CrashAfterDecryption"); // the audit-before-use test (never in live mode)
        }

        // The CVC serves the first authorization only: taken (and so erased) whatever the outcome.
        var cvc = action == "card.refund" ? null : cvcs.Take(request.CardToken);
        (bool approved, string? code, string? decline) answer;
        using (VaultTelemetry.StartAcquirer(action == "card.refund" ? "refund" : "authorize"))
        {
            answer = action == "card.refund"
                ? SandboxAcquirer.Refund()
                : SandboxAcquirer.Authorize(stored.Number, stored.ExpMonth, stored.ExpYear, clock.GetUtcNow());
        }
        var (approved, code, decline) = answer;

        // Batch B: the answer and the outcome row, durable before the Vault replies (not cancelled: the acquirer has
        // answered, so the answer must be kept). Statements that belong with the answer are added to this list.
        var outcome = new List<NpgsqlBatchCommand>();
        if (request.AttemptKey is { } attemptKey)
        {
            outcome.Add(AcquirerAttempts.AnswerCommand(merchantId, attemptKey, approved, code, decline));
        }
        if (approved && action != "card.refund")
        {
            // Until the Host confirms it booked this approval or has it reversed (ADR 133).
            outcome.Add(Approvals.RecordCommand(merchantId, action, request, code!));
        }
        await audit.CommitAsync(outcome, audit.Entry(action, merchantId, request.CardToken, new Dictionary<string, object?>
        {
            ["reference"] = request.Reference, ["amount"] = request.Amount, ["currency"] = request.Currency,
            ["approved"] = approved, ["decline_code"] = decline, ["with_cvc"] = cvc is not null,
        }));
        return new AcquirerOutcome(true, approved, code, decline, brand, last4);
    }

    /// <summary>Gives a reserved attempt key back (nothing was asked of the acquirer); nothing without a key.</summary>
    private static NpgsqlBatchCommand[] ReleaseOf(string merchantId, AcquirerRequest request) =>
        request.AttemptKey is { } key ? [AcquirerAttempts.ReleaseCommand(merchantId, key)] : [];

    private Task AuditRepeatAsync(string action, string merchantId, AcquirerRequest request, AcquirerAttempt earlier) =>
        audit.AppendAsync(action + ".repeated", merchantId, request.CardToken, new Dictionary<string, object?>
        {
            ["reference"] = request.Reference, ["amount"] = request.Amount, ["currency"] = request.Currency,
            ["approved"] = earlier.Approved, ["decline_code"] = earlier.DeclineCode,
        });

    private static async Task<IntentRow?> ReadIntentAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string intentId, bool forUpdate, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT intent_id, merchant_id, client_secret_sha256, expires_at, return_url, status, failed_attempts, card_token,
                   metadata::text, created_at
            FROM vault.tokenization_intents WHERE intent_id = $1
            """ + (forUpdate ? " FOR UPDATE" : ""), conn, tx);
        cmd.Parameters.Add(new() { Value = intentId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            return null;
        }
        return new IntentRow(r.GetString(0), r.GetString(1), r.GetString(2), new DateTimeOffset(r.GetDateTime(3), TimeSpan.Zero),
            r.IsDBNull(4) ? null : r.GetString(4), r.GetString(5), r.GetInt32(6), r.IsDBNull(7) ? null : r.GetString(7),
            r.IsDBNull(8) ? [] : JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(8)) ?? [],
            new DateTimeOffset(r.GetDateTime(9), TimeSpan.Zero));
    }

    private sealed record StoredCard(
        [property: JsonPropertyName("n")] string Number,
        [property: JsonPropertyName("m")] int ExpMonth,
        [property: JsonPropertyName("y")] int ExpYear,
        [property: JsonPropertyName("h")] string? HolderName);
}

internal sealed record IntentRow(string IntentId, string MerchantId, string ClientSecretSha256, DateTimeOffset ExpiresAt,
    string? ReturnUrl, string Status, int FailedAttempts, string? CardToken, Dictionary<string, string> Metadata, DateTimeOffset CreatedAt);

internal sealed record CardSubmission(string Number, int ExpMonth, int ExpYear, string Cvc, string? HolderName);

internal enum SubmitResult
{
    Stored,
    Invalid,
    NotFound,
    Succeeded,
    Expired,
    Failed,
}

internal sealed record SubmitOutcome(SubmitResult Result, IntentRow? Intent, CardDisplay? Card);
