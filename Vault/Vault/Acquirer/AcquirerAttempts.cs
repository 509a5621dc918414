using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Contracts;

namespace Payments.Vault.Acquirer;

/// <summary>A keyed card use as recorded: the request it was for and, once the acquirer answered, the answer.</summary>
internal sealed record AcquirerAttempt(string Action, string CardToken, long Amount, string Currency, bool Answered,
    bool Approved, string? AuthorizationCode, string? DeclineCode, DateTimeOffset? AnsweredAt)
{
    public bool IsFor(string action, AcquirerRequest request) =>
        Action == action && CardToken == request.CardToken && Amount == request.Amount && Currency == request.Currency;
}

/// <summary>What reserving an attempt key found.</summary>
internal abstract record Reservation
{
    /// <summary>The key is this call's: ask the acquirer, then <see cref="AcquirerAttempts.AnswerCommand"/>.</summary>
    public sealed record Reserved : Reservation;

    /// <summary>Already answered for this request: give that answer, ask nobody.</summary>
    public sealed record Answered(AcquirerAttempt Attempt) : Reservation;

    /// <summary>Another call with this key is with the acquirer now: try again shortly.</summary>
    public sealed record InProgress : Reservation;

    /// <summary>The key was used for another amount, card or operation: refused.</summary>
    public sealed record Mismatch : Reservation;
}

/// <summary>
/// <c>vault.acquirer_attempts</c>: each <see cref="AcquirerRequest.AttemptKey"/> is reserved before the acquirer is
/// asked and keeps its first answer for as long as the Host keeps the Idempotency-Key it comes from
/// (<see cref="VaultOptions.AttemptKeyRetention"/>); an older row is replaced, as the merchant may then reuse the key.
/// </summary>
/// <remarks>
/// The reservation and the answer are statements of the audit writer's group commit (docs/adr/0122): the reservation
/// commits durably with the use's "started" row before the card is decrypted, the answer with its outcome row before
/// the Vault replies.
/// </remarks>
internal sealed class AcquirerAttempts(NpgsqlDataSource db, IOptions<VaultOptions> options)
{
    /// <summary>
    /// A reservation left pending this long belongs to a call that never finished (the Vault stopped mid-call): the
    /// same request may take it over. The sandbox acquirer runs in-process, so such a call moved nothing.
    /// </summary>
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The reservation, for the group commit: it affects one row when the key is this call's (new, past its retention,
    /// or abandoned by a call that never finished), none otherwise (then <see cref="ClassifyAsync"/> says why).
    /// </summary>
    public NpgsqlBatchCommand ReserveCommand(string merchantId, string attemptKey, string action, AcquirerRequest request)
    {
        var cmd = new NpgsqlBatchCommand("""
            INSERT INTO vault.acquirer_attempts AS a (merchant_id, attempt_key, action, card_token, amount, currency, state)
            VALUES ($1, $2, $3, $4, $5, $6, 'pending')
            ON CONFLICT (merchant_id, attempt_key) DO UPDATE
               SET action = excluded.action, card_token = excluded.card_token, amount = excluded.amount,
                   currency = excluded.currency, state = 'pending', approved = NULL, authorization_code = NULL,
                   decline_code = NULL, created_at = now(), answered_at = NULL
             WHERE a.created_at <= now() - $7
                OR a.state = 'reversed'
                OR (a.state = 'pending' AND a.created_at <= now() - $8 AND a.action = excluded.action
                    AND a.card_token = excluded.card_token AND a.amount = excluded.amount AND a.currency = excluded.currency)
            """);
        foreach (var v in new object[] { merchantId, attemptKey, action, request.CardToken, request.Amount, request.Currency,
                     options.Value.AttemptKeyRetention, AbandonedAfter })
        {
            cmd.Parameters.Add(new() { Value = v });
        }
        return cmd;
    }

    /// <summary>Why a reservation took no row: answered already, in progress, or the key serves another request.</summary>
    public async Task<Reservation> ClassifyAsync(NpgsqlConnection conn, string merchantId, string attemptKey, string action,
        AcquirerRequest request, CancellationToken ct)
    {
        var earlier = await FindAsync(conn, merchantId, attemptKey, ct);
        return earlier switch
        {
            null => new Reservation.InProgress(), // purged or replaced in between: a retry settles it
            _ when !earlier.IsFor(action, request) => new Reservation.Mismatch(),
            { Answered: true } => new Reservation.Answered(earlier),
            _ => new Reservation.InProgress(),
        };
    }

    /// <summary>The key's answer, if the acquirer gave one for this very request; null otherwise.</summary>
    public async Task<AcquirerAttempt?> FindAnsweredAsync(NpgsqlConnection conn, string merchantId, string attemptKey, string action,
        AcquirerRequest request, CancellationToken ct) =>
        await FindAsync(conn, merchantId, attemptKey, ct) is { Answered: true } found && found.IsFor(action, request) ? found : null;

    /// <summary>The acquirer's answer to a reserved key, for the group commit that also writes the outcome row.</summary>
    public static NpgsqlBatchCommand AnswerCommand(string merchantId, string attemptKey, bool approved, string? code, string? decline)
    {
        var cmd = new NpgsqlBatchCommand("""
            UPDATE vault.acquirer_attempts
               SET state = 'answered', approved = $3, authorization_code = $4, decline_code = $5, answered_at = now()
             WHERE merchant_id = $1 AND attempt_key = $2 AND state = 'pending'
            """);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = attemptKey });
        cmd.Parameters.Add(new() { Value = approved });
        cmd.Parameters.Add(new() { Value = (object?)code ?? DBNull.Value });
        cmd.Parameters.Add(new() { Value = (object?)decline ?? DBNull.Value });
        return cmd;
    }

    /// <summary>Gives a reserved key back when the acquirer was not asked after all (the card did not decrypt).</summary>
    public static NpgsqlBatchCommand ReleaseCommand(string merchantId, string attemptKey)
    {
        var cmd = new NpgsqlBatchCommand(
            "DELETE FROM vault.acquirer_attempts WHERE merchant_id = $1 AND attempt_key = $2 AND state = 'pending'");
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = attemptKey });
        return cmd;
    }

    /// <summary>Deletes up to 10,000 rows past the retention, which no retry can be answered with any more. Returns how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            DELETE FROM vault.acquirer_attempts WHERE ctid IN
              (SELECT ctid FROM vault.acquirer_attempts WHERE created_at <= now() - $1 LIMIT 10000)
            """);
        cmd.Parameters.Add(new() { Value = options.Value.AttemptKeyRetention });
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private async Task<AcquirerAttempt?> FindAsync(NpgsqlConnection conn, string merchantId, string attemptKey, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT action, card_token, amount, currency, state = 'answered', coalesce(approved, false), authorization_code,
                   decline_code, answered_at
              FROM vault.acquirer_attempts
             WHERE merchant_id = $1 AND attempt_key = $2 AND created_at > now() - $3
            """, conn);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = attemptKey });
        cmd.Parameters.Add(new() { Value = options.Value.AttemptKeyRetention });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            return null;
        }
        return new AcquirerAttempt(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetBoolean(4), r.GetBoolean(5),
            r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7),
            r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8));
    }
}

/// <summary>An attempt key came back with a different request than it first served: refused, nothing is sent.</summary>
internal sealed class AttemptKeyReusedException() : Exception("The attempt key was used with a different request.");

/// <summary>Another call with the attempt key is with the acquirer: refused for now, nothing is sent.</summary>
internal sealed class AttemptInProgressException() : Exception("Another call with this attempt key is in progress.");

/// <summary>Purges answers past their retention every few minutes, so the table holds about the retention's worth.</summary>
internal sealed class AcquirerAttemptsPurge(AcquirerAttempts attempts, ILogger<AcquirerAttemptsPurge> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                try
                {
                    while (await attempts.PurgeAsync(stoppingToken) == 10_000)
                    {
                    }
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    logger.LogWarning("Purging old acquirer attempts failed; retrying later: {Error}", e.GetType().Name);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
