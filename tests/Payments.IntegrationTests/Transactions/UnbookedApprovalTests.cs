using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Transactions.Lifecycle;
using Payments.Vault.Contracts;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// Approvals the Host never booked are reversed (docs/adr/0133): the acquirer approved, the Host's commit failed, and
/// the reconciler finds the approval no transaction confirms and has the Vault reverse it, audited. A booked approval
/// is confirmed and never reversed; a retry before the reversal gets the first answer and is booked once.
/// </summary>
public sealed class UnbookedApprovalTests(UnbookedApprovalTests.Fixture gateway) : IClassFixture<UnbookedApprovalTests.Fixture>
{
    /// <summary>The reconciler runs only when a test runs it, and looks at approvals at once.</summary>
    public sealed class Fixture : TransactionsFixture
    {
        protected override void ConfigureHost(Dictionary<string, string?> settings)
        {
            base.ConfigureHost(settings);
            settings["Transactions:ApprovalReconciliation:Enabled"] = "false";
            settings["Transactions:ApprovalReconciliation:ConfirmAfter"] = "00:00:00";
        }
    }

    private ApprovalReconciler Reconciler => gateway.HostServices.GetRequiredService<ApprovalReconciler>();

    private IVaultApprovals Approvals => gateway.HostServices.GetRequiredService<IVaultApprovals>();

    [Theory]
    [InlineData("authorize")]
    [InlineData("authcap")]
    public async Task An_approval_whose_booking_failed_is_reversed_audited_and_its_key_then_authorizes_afresh(string operation)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..12];
        var body = new { operation, amount = 4200, currency = "USD", card_token = token, order_id = orderId };
        var key = Guid.NewGuid().ToString();
        await using (await gateway.FailTransactionInsertsAsync($"NEW.order_id = '{orderId}'"))
        {
            var failed = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);
            Assert.True((int)failed.Status >= 500, $"the failed write answered {(int)failed.Status}");
        }
        var firstCode = await gateway.VaultScalarAsync("SELECT authorization_code FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId);

        await Reconciler.RunOnceAsync(CancellationToken.None);

        Assert.Equal("reversed", await gateway.VaultScalarAsync("SELECT string_agg(state, ',') FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId));
        Assert.Equal("reversed", await gateway.VaultScalarAsync("SELECT state FROM vault.acquirer_attempts WHERE merchant_id = $1", merchant.MerchantId));
        var action = operation == "authcap" ? "card.authcap" : "card.authorize";
        Assert.Equal($"{action},card.reversed", await gateway.VaultScalarAsync(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action IN ($2, 'card.reversed')", token, action));
        Assert.Equal(firstCode, await gateway.VaultScalarAsync(
            "SELECT detail::jsonb ->> 'authorization_code' FROM vault.audit_log WHERE subject = $1 AND action = 'card.reversed'", token));

        // After the reversal the merchant's retry is a fresh authorization, booked once.
        var retried = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);
        Assert.Equal(HttpStatusCode.Created, retried.Status);
        Assert.NotEqual(firstCode, Str(retried.Body, "authorization_code"));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id = $1", orderId));
        await Reconciler.RunOnceAsync(CancellationToken.None);
        Assert.Equal("confirmed,reversed", await gateway.VaultScalarAsync(
            "SELECT string_agg(state, ',' ORDER BY state) FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Fact]
    public async Task A_booked_approval_is_confirmed_and_never_reversed()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var withKey = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions",
            new { operation = "authorize", amount = 700, currency = "USD", card_token = token, order_id = "ord-booked-1" }, Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Created, withKey.Status);
        await AuthorizeAsync(merchant, token, amount: 800); // without an Idempotency-Key

        await Reconciler.RunOnceAsync(CancellationToken.None);
        await Reconciler.RunOnceAsync(CancellationToken.None);

        Assert.Equal("confirmed,confirmed", await gateway.VaultScalarAsync(
            "SELECT string_agg(state, ',') FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId));
        Assert.Null(await gateway.VaultScalarAsync("SELECT action FROM vault.audit_log WHERE subject = $1 AND action = 'card.reversed'", token));
        Assert.Null(await Approvals.ReverseApprovalAsync(
            long.Parse(await gateway.VaultScalarAsync("SELECT min(id) FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId) ?? "0",
                System.Globalization.CultureInfo.InvariantCulture), CancellationToken.None));
    }

    [Fact]
    public async Task A_retry_before_the_reversal_gets_the_first_answer_is_booked_once_and_stops_a_hold_decided_before_it()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..12];
        var body = new { operation = "authorize", amount = 4300, currency = "USD", card_token = token, order_id = orderId };
        var key = Guid.NewGuid().ToString();
        await using (await gateway.FailTransactionInsertsAsync($"NEW.order_id = '{orderId}'"))
        {
            await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);
        }
        // The reconciler looked (nothing booked) just before the retry came in.
        var seen = (await Approvals.ListOpenApprovalsAsync(TimeSpan.Zero, 1000, CancellationToken.None)).Single(a => a.MerchantId == merchant.MerchantId);

        var retried = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);

        Assert.Equal(HttpStatusCode.Created, retried.Status);
        Assert.Equal(await gateway.VaultScalarAsync("SELECT authorization_code FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId),
            Str(retried.Body, "authorization_code"));
        // The hold decided on the earlier look fails: the approval went out again since.
        Assert.False(await Approvals.HoldApprovalAsync(seen.Id, seen.References, CancellationToken.None));
        await Reconciler.RunOnceAsync(CancellationToken.None);
        Assert.Equal("confirmed", await gateway.VaultScalarAsync("SELECT string_agg(state, ',') FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id = $1", orderId));
        Assert.Equal("card.authorize,card.authorize.repeated", await gateway.VaultScalarAsync(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.%' AND action <> 'card.tokenized'", token));
    }

    [Fact]
    public async Task A_retry_while_the_approval_is_held_is_refused_for_now_and_after_the_reversal_authorizes_afresh()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..12];
        var body = new { operation = "authorize", amount = 4400, currency = "USD", card_token = token, order_id = orderId };
        var key = Guid.NewGuid().ToString();
        await using (await gateway.FailTransactionInsertsAsync($"NEW.order_id = '{orderId}'"))
        {
            await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);
        }
        var seen = (await Approvals.ListOpenApprovalsAsync(TimeSpan.Zero, 1000, CancellationToken.None)).Single(a => a.MerchantId == merchant.MerchantId);
        Assert.True(await Approvals.HoldApprovalAsync(seen.Id, seen.References, CancellationToken.None));

        var held = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);

        Assert.Equal(HttpStatusCode.Conflict, held.Status);
        Assert.Equal("idempotency_request_in_progress", Str(held.Body, "code"));
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id = $1", orderId));
        // A reconciler that stopped after its hold: the next pass decides, and reverses what is still not booked.
        await Reconciler.RunOnceAsync(CancellationToken.None);
        Assert.Equal("reversed", await gateway.VaultScalarAsync("SELECT state FROM vault.approvals WHERE id = $1", seen.Id));

        // "For now" held: the refusal was not kept as the key's answer, so the same key now books a fresh authorization.
        var fresh = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);

        Assert.Equal(HttpStatusCode.Created, fresh.Status);
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id = $1", orderId));
        Assert.Equal("reversed,unconfirmed", await gateway.VaultScalarAsync(
            "SELECT string_agg(state, ',' ORDER BY state) FROM vault.approvals WHERE merchant_id = $1", merchant.MerchantId));
    }
}
