using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Contracts;

namespace Payments.Vault.Acquirer;

/// <summary>The acquirer's answer to a keyed card use, as first given.</summary>
internal sealed record AcquirerAnswer(string Action, string CardToken, long Amount, string Currency, bool Approved,
    string? AuthorizationCode, string? DeclineCode)
{
    public bool Answers(string action, AcquirerRequest request) =>
        Action == action && CardToken == request.CardToken && Amount == request.Amount && Currency == request.Currency;
}

/// <summary>
/// <c>vault.acquirer_attempts</c>: the first answer to each <see cref="AcquirerRequest.AttemptKey"/>, for as long as
/// the Host keeps the Idempotency-Key it comes from (<see cref="VaultOptions.AttemptKeyRetention"/>). An older row is
/// ignored and replaced: the merchant may then use the key again for a new request.
/// </summary>
internal sealed class AcquirerAttempts(NpgsqlDataSource db, IOptions<VaultOptions> options)
{
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

    public async Task<AcquirerAnswer?> FindAsync(NpgsqlConnection conn, string merchantId, string attemptKey, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT action, card_token, amount, currency, approved, authorization_code, decline_code
              FROM vault.acquirer_attempts
             WHERE merchant_id = $1 AND attempt_key = $2 AND created_at > now() - $3
            """, conn);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = attemptKey });
        cmd.Parameters.Add(new() { Value = options.Value.AttemptKeyRetention });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>
    /// Keeps <paramref name="answer"/> as the key's answer, unless a concurrent use of the same key got there first:
    /// then that one is returned, and is the answer to give.
    /// </summary>
    /// <remarks>
    /// Committed without waiting for the disk: the caller answers only after the audit row of this use is durable,
    /// and that later commit flushes the WAL past this one.
    /// </remarks>
    public async Task<AcquirerAnswer> RecordAsync(NpgsqlConnection conn, string merchantId, string attemptKey, AcquirerAnswer answer, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
            INSERT INTO vault.acquirer_attempts AS a
                   (merchant_id, attempt_key, action, card_token, amount, currency, approved, authorization_code, decline_code)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM async_commit
            ON CONFLICT (merchant_id, attempt_key) DO UPDATE
               SET action = excluded.action, card_token = excluded.card_token, amount = excluded.amount,
                   currency = excluded.currency, approved = excluded.approved,
                   authorization_code = excluded.authorization_code, decline_code = excluded.decline_code, created_at = now()
             WHERE a.created_at <= now() - $10
            RETURNING true
            """, conn);
        cmd.Parameters.Add(new() { Value = merchantId });
        cmd.Parameters.Add(new() { Value = attemptKey });
        cmd.Parameters.Add(new() { Value = answer.Action });
        cmd.Parameters.Add(new() { Value = answer.CardToken });
        cmd.Parameters.Add(new() { Value = answer.Amount });
        cmd.Parameters.Add(new() { Value = answer.Currency });
        cmd.Parameters.Add(new() { Value = answer.Approved });
        cmd.Parameters.Add(new() { Value = (object?)answer.AuthorizationCode ?? DBNull.Value });
        cmd.Parameters.Add(new() { Value = (object?)answer.DeclineCode ?? DBNull.Value });
        cmd.Parameters.Add(new() { Value = options.Value.AttemptKeyRetention });
        if (await cmd.ExecuteScalarAsync(ct) is true)
        {
            return answer;
        }
        return await FindAsync(conn, merchantId, attemptKey, ct)
               ?? throw new InvalidOperationException("An acquirer attempt was neither recorded nor found.");
    }

    private static AcquirerAnswer Read(NpgsqlDataReader r) => new(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3),
        r.GetBoolean(4), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6));
}

/// <summary>An attempt key came back with a different request than it first answered: refused, nothing is sent.</summary>
internal sealed class AttemptKeyReusedException() : Exception("The attempt key was used with a different request.");

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
