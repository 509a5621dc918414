using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Npgsql;
using NpgsqlTypes;

namespace Payments.BuildingBlocks.Idempotency;

/// <summary>Endpoint metadata: this route honours <c>Idempotency-Key</c> (creating and money-moving POSTs).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class IdempotentAttribute : Attribute;

/// <summary>
/// The current request's hold on its <c>Idempotency-Key</c>, put in <see cref="HttpContext.Features"/> by the Host's
/// middleware. A slice that changes state completes it inside its own database transaction
/// (<see cref="CompletionCommand"/>), so the change and the stored answer commit together or not at all.
/// </summary>
public sealed class IdempotencyClaim(string merchantId, string key, string keyDigest, byte[] fingerprint, Guid leaseToken, DateTimeOffset expiresAt)
{
    public string MerchantId { get; } = merchantId;

    /// <summary>The merchant's key as sent: held in memory only (it seals answers that show a secret, <see cref="AnswerSeal"/>).</summary>
    public string Key { get; } = key;

    /// <summary>How the key is stored, in PostgreSQL and Redis (<see cref="IdempotencyStore.Digest"/>).</summary>
    public string KeyDigest { get; } = keyDigest;
    public byte[] Fingerprint { get; } = fingerprint;
    public Guid LeaseToken { get; } = leaseToken;

    /// <summary>When the key's row expires in PostgreSQL (retention counted from the claim): the cache ends with it.</summary>
    public DateTimeOffset ExpiresAt { get; } = expiresAt;

    /// <summary>
    /// A key for the calls this request makes to other systems (the acquirer, through the Vault), the same on every
    /// retry of the request, so they can answer a retry as they answered the first try. A merchant's key is claimed
    /// for one route and body only (the fingerprint), so it names the operation; hashed, so the merchant's own key
    /// goes no further than the Host.
    /// </summary>
    public string OperationKey => KeyDigest;

    /// <summary>True once a slice committed the answer with its change; the middleware then only caches it.</summary>
    public bool CompletedInTransaction { get; private set; }

    /// <summary>
    /// The statement that stores the answer, to run in the slice's transaction (or as the last statement of its batch,
    /// which is then one implicit transaction with the change). A claim taken over by another request (lease expired)
    /// makes it fail with <see cref="LeaseLostSqlState"/>, so the change cannot commit without its answer.
    /// </summary>
    public NpgsqlBatchCommand CompletionCommand(int status, byte[] body, IReadOnlyDictionary<string, string>? headers, DateTimeOffset now)
    {
        var cmd = new NpgsqlBatchCommand("SELECT idempotency.complete($1, $2, $3, $4, $5, $6, $7)");
        cmd.Parameters.Add(new() { Value = MerchantId });
        cmd.Parameters.Add(new() { Value = KeyDigest });
        cmd.Parameters.Add(new() { Value = LeaseToken });
        cmd.Parameters.Add(new() { Value = status });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(headers ?? new Dictionary<string, string>()), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = body });
        cmd.Parameters.Add(new() { Value = now });
        return cmd;
    }

    /// <summary>
    /// The statement that stores the answers of many requests at once (a group commit): <c>idempotency.complete</c>
    /// per row, so one claim taken over fails the whole statement, and its transaction, like
    /// <see cref="CompletionCommand"/>.
    /// </summary>
    public static NpgsqlBatchCommand CompletionSetCommand(IReadOnlyList<StoredAnswer> answers)
    {
        var cmd = new NpgsqlBatchCommand("""
            SELECT idempotency.complete(a.merchant_id, a.idem_key, a.lease, a.status, a.headers::jsonb, a.body, a.at)
              FROM unnest($1::text[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::bytea[], $7::timestamptz[])
                   AS a(merchant_id, idem_key, lease, status, headers, body, at)
            """);
        cmd.Parameters.Add(new() { Value = answers.Select(a => a.Claim.MerchantId).ToArray() });
        cmd.Parameters.Add(new() { Value = answers.Select(a => a.Claim.KeyDigest).ToArray() });
        cmd.Parameters.Add(new() { Value = answers.Select(a => a.Claim.LeaseToken).ToArray() });
        cmd.Parameters.Add(new() { Value = answers.Select(a => a.Status).ToArray() });
        cmd.Parameters.Add(new() { Value = answers.Select(a => JsonSerializer.Serialize(a.Headers)).ToArray() });
        cmd.Parameters.Add(new() { Value = answers.Select(a => a.Body).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        cmd.Parameters.Add(new() { Value = answers.Select(a => a.At).ToArray() });
        return cmd;
    }

    /// <summary>The SQLSTATE <c>idempotency.complete</c> raises when the claim was taken over.</summary>
    public const string LeaseLostSqlState = "IL001";

    /// <summary>True for the error of a completion whose claim was taken over: the change rolled back with it.</summary>
    public static bool IsLeaseLost(Exception e) => e is PostgresException { SqlState: LeaseLostSqlState };

    /// <summary>Call after the slice's transaction committed.</summary>
    public void MarkCommitted() => CompletedInTransaction = true;
}

/// <summary>A request's answer to store with its change.</summary>
public sealed record StoredAnswer(IdempotencyClaim Claim, int Status, byte[] Body, IReadOnlyDictionary<string, string> Headers, DateTimeOffset At);

public static class IdempotencyHttpContextExtensions
{
    /// <summary>The claim of the current request, or null when it carries no <c>Idempotency-Key</c>.</summary>
    public static IdempotencyClaim? IdempotencyClaim(this HttpContext http) => http.Features.Get<IdempotencyClaim>();
}
