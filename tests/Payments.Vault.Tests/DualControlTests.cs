using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.Vault.Commands;
using Payments.Vault.Crypto;

namespace Payments.Vault.Tests;

/// <summary>
/// Revoking a key that still protects cards takes two distinct operators (ADR 131): a pending request, approved by
/// someone else within the window; the database refuses the requester's own approval, an expired or used request.
/// </summary>
public sealed class DualControlTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    private static readonly TestOperator Alice = new("alice");
    private static readonly TestOperator Bob = new("bob");

    [Fact]
    public async Task Revoking_a_key_with_cards_waits_for_a_second_operator_who_alone_can_approve_it_once()
    {
        var keys = vault.Vault.Services.GetRequiredService<KeyOperations>();
        var merchant = VaultFixture.NewMerchant();
        await vault.TokenizeAsync(merchant);
        var oldKey = keys.CurrentKeyId();
        keys.Rotate();

        var (code, requested) = await RunAsync(Alice, "keys", "revoke", oldKey.ToString());
        Assert.Equal(0, code);
        Assert.True(requested.GetProperty("pending").GetBoolean());
        Assert.Equal("alice", requested.GetProperty("requested_by").GetString());
        var id = requested.GetProperty("request_id").GetString()!;
        Assert.False(await RevokedAsync(keys, oldKey));
        var (_, listed) = await RunAsync(Bob, "requests", "list");
        Assert.Contains(listed.EnumerateArray(), r => r.GetProperty("id").GetString() == id && r.GetProperty("state").GetString() == "pending");

        var (selfCode, self) = await RunAsync(Alice, "requests", "approve", id);
        Assert.Equal(1, selfCode);
        Assert.Equal("refused", self.GetProperty("status").GetString());
        Assert.False(await RevokedAsync(keys, oldKey));

        var (approvedCode, approved) = await RunAsync(Bob, "requests", "approve", id);
        Assert.Equal(0, approvedCode);
        Assert.Equal("executed", approved.GetProperty("status").GetString());
        Assert.True(approved.GetProperty("result").GetProperty("revoked").GetBoolean());
        Assert.True(await RevokedAsync(keys, oldKey));

        var (againCode, again) = await RunAsync(new TestOperator("carol"), "requests", "approve", id);
        Assert.Equal(1, againCode);
        Assert.Equal("refused", again.GetProperty("status").GetString());

        // On record with both identities, in order.
        Assert.Equal(
            "operator.request.created:alice:,operator.request.refused:alice:alice,operator.request.approved:alice:bob,operator.request.executed:alice:bob,operator.request.refused:alice:carol",
            await vault.ScalarAsync<string>("""
                SELECT string_agg(action || ':' || (detail::jsonb ->> 'requested_by') || ':' ||
                                  coalesce(detail::jsonb ->> 'approved_by', detail::jsonb ->> 'approver', ''), ',' ORDER BY seq)
                  FROM vault.audit_log WHERE action LIKE 'operator.request.%' AND detail::jsonb ->> 'request_id' = $1
                """, id));
    }

    [Fact]
    public async Task The_force_flag_is_gone_and_a_key_without_cards_is_revoked_by_one_operator()
    {
        var keys = vault.Vault.Services.GetRequiredService<KeyOperations>();
        var merchant = VaultFixture.NewMerchant();
        await vault.TokenizeAsync(merchant);
        var withCards = keys.CurrentKeyId();
        var empty = keys.Rotate();
        keys.Rotate();

        var (forced, _) = await RunAsync(Alice, "keys", "revoke", withCards.ToString(), "--force");
        var (alone, revoked) = await RunAsync(Alice, "keys", "revoke", empty.ToString());

        Assert.Equal(2, forced);
        Assert.False(await RevokedAsync(keys, withCards));
        Assert.Equal(0, alone);
        Assert.True(revoked.GetProperty("revoked").GetBoolean());
        Assert.True(await RevokedAsync(keys, empty));
    }

    [Fact]
    public async Task An_expired_request_cannot_be_approved_and_a_cancelled_one_neither()
    {
        var dual = vault.Vault.Services.GetRequiredService<DualControl>();
        var expired = Guid.NewGuid();
        await vault.ExecAsync("""
            INSERT INTO vault.operator_requests (id, action, subject, requested_by, requested_at, expires_at)
            VALUES ($1, 'keys.revoke', $2, 'alice', now() - interval '2 days', now() - interval '1 day')
            """, expired, Guid.NewGuid().ToString());
        var cancelled = await dual.RequestAsync(Alice, "keys.revoke", Guid.NewGuid().ToString(), new Dictionary<string, object?>(), CancellationToken.None);

        var late = await dual.ApproveAsync(Bob, expired, CancellationToken.None);
        Assert.Equal(ApprovalStatus.Cancelled, (await dual.CancelAsync(Alice, cancelled.Id, CancellationToken.None)).Status);
        var afterCancel = await dual.ApproveAsync(Bob, cancelled.Id, CancellationToken.None);

        Assert.Equal(ApprovalStatus.Refused, late.Status);
        Assert.Contains("expired", late.Reason, StringComparison.Ordinal);
        Assert.Equal("expired", (await dual.FindAsync(expired, CancellationToken.None))!.State);
        Assert.Equal(ApprovalStatus.Refused, afterCancel.Status);
        Assert.Equal("cancelled", (await dual.FindAsync(cancelled.Id, CancellationToken.None))!.State);
    }

    [Fact]
    public async Task The_serving_role_cannot_approve_its_own_request_rewrite_one_or_delete_it_behind_the_verbs()
    {
        var dual = vault.Vault.Services.GetRequiredService<DualControl>();
        var request = await dual.RequestAsync(Alice, "keys.revoke", Guid.NewGuid().ToString(), new Dictionary<string, object?>(), CancellationToken.None);
        await using var conn = new NpgsqlConnection(vault.ServingConnectionString);
        await conn.OpenAsync();

        foreach (var sql in new[]
                 {
                     "UPDATE vault.operator_requests SET state = 'approved', decided_by = requested_by WHERE id = $1",
                     "UPDATE vault.operator_requests SET requested_by = 'mallory' WHERE id = $1",
                     "UPDATE vault.operator_requests SET expires_at = now() + interval '1 year' WHERE id = $1",
                     "UPDATE vault.operator_requests SET state = 'executed', decided_by = 'mallory' WHERE id = $1",
                     "DELETE FROM vault.operator_requests WHERE id = $1",
                 })
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            cmd.Parameters.Add(new() { Value = request.Id });
            await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
        }
        Assert.Equal("pending", (await dual.FindAsync(request.Id, CancellationToken.None))!.State);
    }

    private static async Task<bool> RevokedAsync(KeyOperations keys, Guid keyId) =>
        (await keys.ListAsync(CancellationToken.None)).Single(k => k.KeyId == keyId).Revoked;

    [Fact]
    public async Task Destroying_a_key_and_forgetting_a_merchant_run_only_when_a_second_operator_approves()
    {
        var keys = vault.Vault.Services.GetRequiredService<KeyOperations>();
        var merchant = VaultFixture.NewMerchant();
        await vault.TokenizeAsync(merchant);

        // A key no card uses any more: rotated away from, every card rewrapped, then revoked (one operator suffices
        // for a key without cards); destroying it still takes two.
        var old = keys.CurrentKeyId();
        keys.Rotate();
        await keys.RewrapAsync(500, CancellationToken.None);
        var (revokeCode, revoked) = await RunAsync(Alice, "keys", "revoke", old.ToString());
        Assert.Equal(0, revokeCode);
        Assert.True(revoked.GetProperty("revoked").GetBoolean());
        var (destroyCode, destroy) = await RunAsync(Alice, "keys", "destroy", old.ToString());
        Assert.Equal(0, destroyCode);
        Assert.True(destroy.GetProperty("pending").GetBoolean());
        Assert.NotNull(await vault.ScalarAsync<string>("SELECT xml FROM vault.data_protection_keys WHERE key_id = $1 AND destroyed_at IS NULL", old));
        var (destroyedCode, destroyed) = await RunAsync(Bob, "requests", "approve", destroy.GetProperty("request_id").GetString()!);
        Assert.Equal(0, destroyedCode);
        Assert.Equal("executed", destroyed.GetProperty("status").GetString());
        Assert.Equal(1L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.data_protection_keys WHERE key_id = $1 AND destroyed_at IS NOT NULL", old));

        var (forgetCode, forget) = await RunAsync(Alice, "merchant", "forget", merchant);
        Assert.Equal(0, forgetCode);
        Assert.Equal("merchant.forget", forget.GetProperty("action").GetString());
        Assert.Equal(0L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.wrapped_keys WHERE scope = $1 AND destroyed_at IS NOT NULL", merchant));
        var (selfCode, _) = await RunAsync(Alice, "requests", "approve", forget.GetProperty("request_id").GetString()!);
        Assert.NotEqual(0, selfCode);
        var (approvedCode, approved) = await RunAsync(Bob, "requests", "approve", forget.GetProperty("request_id").GetString()!);
        Assert.Equal(0, approvedCode);
        Assert.Equal("executed", approved.GetProperty("status").GetString());
        Assert.Equal(1L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.wrapped_keys WHERE scope = $1 AND purpose = 'merchant-dek' AND destroyed_at IS NOT NULL", merchant));
        Assert.Equal(1L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.audit_log WHERE action = 'merchant.forgotten' AND merchant_id = $1", merchant));
    }

    [Fact]
    public async Task A_verb_with_an_argument_it_does_not_take_is_refused_and_does_nothing()
    {
        var keys = vault.Vault.Services.GetRequiredService<KeyOperations>();
        var current = keys.CurrentKeyId();
        var requests = await vault.ScalarAsync<long>("SELECT count(*) FROM vault.operator_requests");

        var (rotate, _) = await RunAsync(Alice, "keys", "rotate", "--x");
        var (misspelt, _) = await RunAsync(Alice, "audit", "verify", "--ancor", "/tmp/auditor-copy");
        var (bare, _) = await RunAsync(Alice, "audit", "verify", "--anchor");
        var (purge, _) = await RunAsync(Alice, "audit", "purge", "--dry-run");
        var (unknownMerchant, _) = await RunAsync(Alice, "merchant", "forget", "mer_00000000000000000000000000");
        var (missingFile, _) = await RunAsync(Alice, "kek", "rotate", "--component-file", "/nonexistent/component");

        Assert.Equal([2, 2, 2, 2, 2], new[] { rotate, misspelt, bare, purge, unknownMerchant });
        Assert.Equal(1, missingFile); // a clear refusal, not an unhandled exception
        Assert.Equal(current, keys.CurrentKeyId());
        Assert.Equal(requests, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.operator_requests"));
    }

    /// <summary>Runs a verb as <paramref name="who"/>, as <c>./run.sh vault ...</c> would; its JSON output parsed.</summary>
    private async Task<(int Code, JsonElement Output)> RunAsync(IOperatorIdentity who, params string[] args)
    {
        using var stdout = new StringWriter();
        var code = await VaultCommands.RunAsync(new AsOperator(vault.Vault.Services, who), args, stdout, CancellationToken.None);
        var text = stdout.ToString();
        return (code, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private sealed record TestOperator(string Operator) : IOperatorIdentity
    {
        public string OsUser => "payments-vault";
    }

    /// <summary>The Vault's services with another operator identity in place of the OS one.</summary>
    private sealed class AsOperator(IServiceProvider inner, IOperatorIdentity who) : IServiceProvider
    {
        public object? GetService(Type serviceType) => serviceType == typeof(IOperatorIdentity) ? who : inner.GetService(serviceType);
    }
}
