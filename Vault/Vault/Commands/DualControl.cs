using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Audit;

namespace Payments.Vault.Commands;

/// <summary>
/// Dual control of destructive operator verbs (ADR 131): the first operator's verb records a pending request in
/// <c>vault.operator_requests</c>; a second, distinct operator approves it within <see cref="DualControlOptions.ApprovalWindow"/>,
/// and the approval runs the operation registered for the request's action. The database refuses an approval by the
/// requester, of an expired request or of one already used. Each step is audited with the identities involved.
/// </summary>
internal sealed class DualControl(NpgsqlDataSource db, AuditLog audit, TimeProvider clock, IOptions<VaultOptions> options)
{
    private readonly Dictionary<string, Func<string, CancellationToken, Task<object>>> executors = new(StringComparer.Ordinal);

    /// <summary>
    /// Registers what an approved request for <paramref name="action"/> runs, given its subject; its result is printed
    /// and stored (briefly) as the request's outcome.
    /// </summary>
    public DualControl Register(string action, Func<string, CancellationToken, Task<object>> executor)
    {
        executors.Add(action, executor);
        return this;
    }

    public bool Knows(string action) => executors.ContainsKey(action);

    public async Task<OperatorRequest> RequestAsync(IOperatorIdentity by, string action, string subject,
        IReadOnlyDictionary<string, object?> detail, CancellationToken ct)
    {
        if (!Knows(action))
        {
            throw new ArgumentException($"No operation is registered for '{action}'.", nameof(action));
        }
        var id = Guid.CreateVersion7();
        var expires = clock.GetUtcNow() + options.Value.DualControl.ApprovalWindow;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("""
            INSERT INTO vault.operator_requests (id, action, subject, requested_by, expires_at) VALUES ($1, $2, $3, $4, $5)
            """, conn, tx))
        {
            foreach (var v in new object[] { id, action, subject, by.Operator, expires })
            {
                cmd.Parameters.Add(new() { Value = v });
            }
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await audit.AppendAsync(conn, tx, "operator.request.created", null, subject, new Dictionary<string, object?>(detail)
        {
            ["request_id"] = id, ["request_action"] = action, ["requested_by"] = by.Operator, ["os_user"] = by.OsUser,
            ["expires_at"] = expires,
        }, ct);
        await tx.CommitAsync(ct);
        return (await FindAsync(id, ct))!;
    }

    public async Task<IReadOnlyList<OperatorRequest>> ListAsync(bool all, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(Select + (all
            ? " ORDER BY requested_at DESC LIMIT 200"
            : " WHERE state = 'pending' AND expires_at > now() ORDER BY requested_at"));
        return await ReadAsync(cmd, ct);
    }

    public async Task<OperatorRequest?> FindAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(Select + " WHERE id = $1");
        cmd.Parameters.Add(new() { Value = id });
        return (await ReadAsync(cmd, ct)).SingleOrDefault();
    }

    /// <summary>
    /// Approves and runs a request. The approval commits (with its audit row) before the operation runs, so a request
    /// is used at most once even if the operation fails; the outcome is recorded and audited after.
    /// </summary>
    public async Task<ApprovalResult> ApproveAsync(IOperatorIdentity by, Guid id, CancellationToken ct)
    {
        var request = await FindAsync(id, ct);
        if (request is null)
        {
            return new ApprovalResult(ApprovalStatus.NotFound, null, null);
        }
        if (!executors.TryGetValue(request.Action, out var executor))
        {
            return new ApprovalResult(ApprovalStatus.Refused, request, $"No operation is registered for '{request.Action}'.");
        }
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await using var cmd = new NpgsqlCommand(
                "UPDATE vault.operator_requests SET state = 'approved', decided_by = $2 WHERE id = $1", conn, tx);
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = by.Operator });
            try
            {
                await cmd.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.CheckViolation)
            {
                // The requester approving, an expired request or one already decided: the database's rules (0005).
                await tx.RollbackAsync(ct);
                var reason = e.ConstraintName is not null ? "The requester cannot approve their own request." : e.MessageText;
                await audit.AppendAsync("operator.request.refused", null, request.Subject, new Dictionary<string, object?>
                {
                    ["request_id"] = id, ["request_action"] = request.Action, ["requested_by"] = request.RequestedBy,
                    ["approver"] = by.Operator, ["os_user"] = by.OsUser, ["reason"] = reason,
                });
                return new ApprovalResult(ApprovalStatus.Refused, request, reason);
            }
            await audit.AppendAsync(conn, tx, "operator.request.approved", null, request.Subject, new Dictionary<string, object?>
            {
                ["request_id"] = id, ["request_action"] = request.Action, ["requested_by"] = request.RequestedBy,
                ["approved_by"] = by.Operator, ["os_user"] = by.OsUser,
            }, ct);
            await tx.CommitAsync(ct);
        }

        object? result = null;
        string? error = null;
        try
        {
            result = await executor(request.Subject, ct);
        }
#pragma warning disable CA1031 // whatever the operation threw, its failure is recorded against the request
        catch (Exception e)
#pragma warning restore CA1031
        {
            error = e is ArgumentException ? e.Message : e.GetType().Name;
        }
        await using (var conn = await db.OpenConnectionAsync(CancellationToken.None))
        await using (var tx = await conn.BeginTransactionAsync(CancellationToken.None))
        {
            await using var cmd = new NpgsqlCommand(
                "UPDATE vault.operator_requests SET state = $2, outcome = $3 WHERE id = $1", conn, tx);
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = error is null ? "executed" : "failed" });
            cmd.Parameters.Add(new() { Value = error ?? "done" });
            await cmd.ExecuteNonQueryAsync(CancellationToken.None);
            await audit.AppendAsync(conn, tx, error is null ? "operator.request.executed" : "operator.request.failed", null,
                request.Subject, new Dictionary<string, object?>
                {
                    ["request_id"] = id, ["request_action"] = request.Action, ["requested_by"] = request.RequestedBy,
                    ["approved_by"] = by.Operator, ["error"] = error,
                }, CancellationToken.None);
            await tx.CommitAsync(CancellationToken.None);
        }
        return error is null
            ? new ApprovalResult(ApprovalStatus.Executed, (await FindAsync(id, ct))!, null, result)
            : new ApprovalResult(ApprovalStatus.Failed, (await FindAsync(id, ct))!, error);
    }

    public async Task<ApprovalResult> CancelAsync(IOperatorIdentity by, Guid id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand(
            "UPDATE vault.operator_requests SET state = 'cancelled', decided_by = $2 WHERE id = $1 AND state = 'pending' RETURNING action, subject, requested_by",
            conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = by.Operator });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                await r.CloseAsync();
                await tx.RollbackAsync(ct);
                var existing = await FindAsync(id, ct);
                return new ApprovalResult(existing is null ? ApprovalStatus.NotFound : ApprovalStatus.Refused, existing,
                    existing is null ? null : $"The request is {existing.State}.");
            }
            var (action, subject, requestedBy) = (r.GetString(0), r.GetString(1), r.GetString(2));
            await r.CloseAsync();
            await audit.AppendAsync(conn, tx, "operator.request.cancelled", null, subject, new Dictionary<string, object?>
            {
                ["request_id"] = id, ["request_action"] = action, ["requested_by"] = requestedBy,
                ["cancelled_by"] = by.Operator, ["os_user"] = by.OsUser,
            }, ct);
        }
        await tx.CommitAsync(ct);
        return new ApprovalResult(ApprovalStatus.Cancelled, await FindAsync(id, ct), null);
    }

    private const string Select =
        "SELECT id, action, subject, requested_by, requested_at, expires_at, state, decided_by, decided_at, outcome FROM vault.operator_requests";

    private async Task<List<OperatorRequest>> ReadAsync(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<OperatorRequest>();
        var now = clock.GetUtcNow();
        while (await r.ReadAsync(ct))
        {
            var state = r.GetString(6);
            var expires = r.GetFieldValue<DateTimeOffset>(5);
            list.Add(new OperatorRequest(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3),
                r.GetFieldValue<DateTimeOffset>(4), expires, state == "pending" && expires <= now ? "expired" : state,
                r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8),
                r.IsDBNull(9) ? null : r.GetString(9)));
        }
        return list;
    }
}

/// <summary>A dual-control request as <c>vault requests list</c> prints it. State <c>expired</c>: pending past its window.</summary>
internal sealed record OperatorRequest(Guid Id, string Action, string Subject, string RequestedBy, DateTimeOffset RequestedAt,
    DateTimeOffset ExpiresAt, string State, string? DecidedBy, DateTimeOffset? DecidedAt, string? Outcome);

internal enum ApprovalStatus
{
    Executed,
    Failed,
    Refused,
    Cancelled,
    NotFound,
}

internal sealed record ApprovalResult(ApprovalStatus Status, OperatorRequest? Request, string? Reason, object? Result = null);

internal sealed class DualControlOptions
{
    /// <summary>How long a pending request can be approved (<c>Vault:DualControl:ApprovalWindow</c>).</summary>
    public TimeSpan ApprovalWindow { get; set; } = TimeSpan.FromHours(24);
}

internal static class DualControlSetup
{
    /// <summary>
    /// Dual control with the operations this branch gates: <c>keys.revoke</c> (a key that still protects cards).
    /// Register further actions here (<c>keys.destroy</c>, <c>merchant.forget</c>).
    /// </summary>
    public static IServiceCollection AddDualControl(this IServiceCollection services)
    {
        services.AddSingleton<IOperatorIdentity, OsOperatorIdentity>();
        services.AddSingleton(sp => new DualControl(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<AuditLog>(),
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<VaultOptions>>())
            .Register("keys.revoke", async (subject, ct) =>
            {
                var keyId = Guid.Parse(subject);
                var (revoked, remaining) = await sp.GetRequiredService<Crypto.KeyOperations>().RevokeAsync(keyId, force: true, ct);
                return new { key_id = keyId, revoked, cards_on_key = remaining };
            })
            .Register("keys.destroy", async (subject, ct) =>
            {
                var keyId = Guid.Parse(subject);
                await sp.GetRequiredService<Crypto.KeyOperations>().DestroyAsync(keyId, ct);
                return new { key_id = keyId, destroyed = true };
            })
            .Register("merchant.forget", async (subject, ct) =>
            {
                var forgotten = await sp.GetRequiredService<Crypto.MerchantKeys>().ForgetAsync(subject, ct);
                return new
                {
                    merchant_id = forgotten.MerchantId, keys_destroyed = forgotten.KeysDestroyed, cards_unreadable = forgotten.CardsUnreadable,
                };
            }));
        return services;
    }
}
