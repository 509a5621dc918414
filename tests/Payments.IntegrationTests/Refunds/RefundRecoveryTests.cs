using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Payments.Refunds.Recovery;
using Payments.TestKit;
using static Payments.IntegrationTests.Refunds.RefundApi;

namespace Payments.IntegrationTests.Refunds;

/// <summary>
/// A reservation whose Host lost the Vault's answer (it died, or its database went away, between reserving and
/// booking) is neither released blindly nor kept forever (docs/adr/0082): the recovery asks the Vault again with the
/// reservation's attempt key, which gives the acquirer's first answer, and books that; a retry with the same
/// Idempotency-Key does the same, and whichever books first wins, once.
/// </summary>
[Collection(RefundsCollection.Name)]
public sealed class RefundRecoveryTests(RefundsFixture gateway)
{
    /// <summary>A Host that loses every refund's answer; its own recovery is off.</summary>
    private HostFactory LosingHost(bool vaultAnswers) =>
        gateway.HostWithVault(v => new AnswerLosingVault(v, vaultAnswers), new Dictionary<string, string?> { ["Refunds:Recovery:Enabled"] = "false" });

    /// <summary>One recovery pass that looks at every pending reservation at once, run by a Host of its own.</summary>
    private async Task RecoverAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Transactions:ScheduledSettlement"] = "false", ["Refunds:Recovery:Enabled"] = "false", ["Refunds:Recovery:ResolveAfter"] = "00:00:00",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            all[k] = v;
        }
        await using var host = gateway.CreateAnotherHost(all);
        await host.Services.GetRequiredService<PendingRefundRecovery>().RunOnceAsync(CancellationToken.None);
    }

    private async Task<(string PaymentId, string RefundId)> LoseARefundAsync(MerchantClient merchant, long amount, bool vaultAnswers,
        string? token = null, string? idempotencyKey = null)
    {
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000, token: token), "trx_id");
        await using (var losing = LosingHost(vaultAnswers))
        {
            using var http = losing.CreateClientFor(merchant);
            var (status, _, _) = await RefundAsync(http, paymentId, amount, idempotencyKey: idempotencyKey);
            Assert.True((int)status >= 500, $"the lost refund answered {(int)status}");
        }
        Assert.Equal("pending", await gateway.TextAsync("SELECT state FROM transactions.refund_reservations WHERE payment_trx_id = $1", paymentId));
        Assert.Equal(amount, await gateway.ScalarAsync("SELECT refund_reserved_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
        var refundId = (await gateway.TextAsync("SELECT refund_trx_id FROM transactions.refund_reservations WHERE payment_trx_id = $1", paymentId))!;
        return (paymentId, refundId);
    }

    [Fact]
    public async Task A_reservation_the_acquirer_approved_is_booked_by_the_recovery_with_the_first_answer()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (paymentId, refundId) = await LoseARefundAsync(merchant, 300, vaultAnswers: true);
        // Held, not released: 701 is more than is refundable while the acquirer may have refunded 300.
        Assert.Equal(0, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));

        await RecoverAsync();

        var refund = await GetAsync(merchant.Http, $"/v1/transactions/{refundId}");
        Assert.Equal("CAPTURED", Str(refund, "status"));
        Assert.Equal(300, Long(refund, "order_amount"));
        Assert.Equal(await gateway.VaultScalarAsync(
                "SELECT authorization_code FROM vault.acquirer_attempts WHERE merchant_id = $1 AND attempt_key = $2", merchant.MerchantId, refundId),
            Str(refund, "authorization_code"));
        Assert.Equal(300, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        await AssertResolvedAsync(paymentId);
        // The acquirer was asked once; the recovery got its first answer back.
        Assert.Equal("card.refund,card.refund.repeated", await RefundAuditAsync(merchant));

        await RecoverAsync();
        Assert.Equal(1, await gateway.ScalarAsync("SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1", paymentId));
    }

    [Fact]
    public async Task A_reservation_the_Vault_never_saw_and_can_no_longer_make_is_booked_declined_and_gives_the_amount_back()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeAsync(merchant);
        var (paymentId, refundId) = await LoseARefundAsync(merchant, 400, vaultAnswers: false, token: token);
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(merchant.Http, HttpMethod.Delete, $"/v1/card-tokens/{token}")).Status);

        await RecoverAsync();

        var refund = await GetAsync(merchant.Http, $"/v1/transactions/{refundId}");
        Assert.Equal("DECLINED", Str(refund, "status"));
        Assert.Equal("card_unavailable", Str(refund, "decline_code"));
        Assert.Equal(0, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        await AssertResolvedAsync(paymentId);
        Assert.Null(await RefundAuditAsync(merchant));
    }

    [Fact]
    public async Task A_reservation_the_Vault_never_saw_is_made_by_the_recovery_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (paymentId, refundId) = await LoseARefundAsync(merchant, 250, vaultAnswers: false);
        Assert.Null(await RefundAuditAsync(merchant));

        await RecoverAsync();
        await RecoverAsync();

        Assert.Equal("CAPTURED", Str(await GetAsync(merchant.Http, $"/v1/transactions/{refundId}"), "status"));
        Assert.Equal(250, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        await AssertResolvedAsync(paymentId);
        Assert.Equal("card.refund", await RefundAuditAsync(merchant));
    }

    [Fact]
    public async Task A_refund_whose_Vault_cannot_be_reached_is_given_back_at_once_not_made_later()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        // A port nothing listens on: the connection is refused, so the call certainly never reached the Vault.
        var port = LoopbackPorts.Free();
        await using (var cut = gateway.CreateAnotherHost(new Dictionary<string, string?>
                     {
                         ["Vault:BaseUrl"] = $"http://127.0.0.1:{port}/", ["Refunds:Recovery:Enabled"] = "false",
                     }, overVaultSocket: true))
        {
            using var http = cut.CreateClientFor(merchant);
            var (status, _, _) = await RefundAsync(http, paymentId, 1000);
            Assert.True((int)status >= 500, $"the refund answered {(int)status}");
        }

        // Given back at once: nothing is held, and the recovery finds nothing to make behind the merchant's back.
        await AssertResolvedAsync(paymentId);
        await RecoverAsync();
        Assert.Equal(0, await gateway.ScalarAsync("SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1", paymentId));
        Assert.Null(await RefundAuditAsync(merchant));
        // The whole amount is refundable again.
        Assert.Equal(HttpStatusCode.Created, (await RefundAsync(merchant.Http, paymentId, 1000)).Status);
    }

    [Fact]
    public async Task A_retry_with_the_same_Idempotency_Key_books_the_lost_refund_once_and_the_recovery_then_has_nothing_to_do()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var key = "refund-" + Guid.NewGuid().ToString("N");
        var (paymentId, refundId) = await LoseARefundAsync(merchant, 300, vaultAnswers: true, idempotencyKey: key);

        var (retried, body, _) = await RefundAsync(merchant.Http, paymentId, 300, idempotencyKey: key);
        await RecoverAsync();
        var (replayed, replayedBody, _) = await RefundAsync(merchant.Http, paymentId, 300, idempotencyKey: key);

        Assert.Equal(HttpStatusCode.Created, retried);
        Assert.Equal(refundId, Str(body, "trx_id"));
        Assert.Equal(HttpStatusCode.Created, replayed);
        Assert.Equal(body!.ToJsonString(), replayedBody!.ToJsonString());
        Assert.Equal(300, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1, await gateway.ScalarAsync("SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1", paymentId));
        await AssertResolvedAsync(paymentId);
        Assert.Equal("card.refund,card.refund.repeated", await RefundAuditAsync(merchant));
    }

    [Fact]
    public async Task A_retry_with_the_same_Idempotency_Key_after_the_recovery_booked_it_answers_with_that_refund()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var key = "refund-" + Guid.NewGuid().ToString("N");
        var (paymentId, refundId) = await LoseARefundAsync(merchant, 300, vaultAnswers: true, idempotencyKey: key);

        await RecoverAsync();
        var (retried, body, response) = await RefundAsync(merchant.Http, paymentId, 300, idempotencyKey: key);

        Assert.Equal(HttpStatusCode.Created, retried);
        Assert.Equal(refundId, Str(body, "trx_id"));
        Assert.Equal("CAPTURED", Str(body, "status"));
        Assert.NotNull(response.Headers.ETag);
        Assert.Equal(300, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1, await gateway.ScalarAsync("SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1", paymentId));
        Assert.Equal("card.refund,card.refund.repeated", await RefundAuditAsync(merchant));
    }

    [Fact]
    public async Task A_reservation_older_than_the_Vault_remembers_attempts_is_held_not_asked_about()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (paymentId, _) = await LoseARefundAsync(merchant, 300, vaultAnswers: true);

        await RecoverAsync(new Dictionary<string, string?> { ["Refunds:Recovery:GiveUpAfter"] = "00:00:00" });

        Assert.Equal("pending", await gateway.TextAsync("SELECT state FROM transactions.refund_reservations WHERE payment_trx_id = $1", paymentId));
        Assert.Equal(300, await gateway.ScalarAsync("SELECT refund_reserved_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
        Assert.Equal("card.refund", await RefundAuditAsync(merchant));
        // Still held: the whole capture is not refundable again.
        await using var impatient = gateway.CreateAnotherHost(new Dictionary<string, string?>
        {
            ["Transactions:ScheduledSettlement"] = "false", ["Refunds:InFlightWait"] = "00:00:00", ["Refunds:Recovery:Enabled"] = "false",
        });
        using var http = impatient.CreateClientFor(merchant);
        var (status, problem, _) = await RefundAsync(http, paymentId, 1000);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("amount_exceeds_refundable", Code(problem));
    }

    private async Task AssertResolvedAsync(string paymentId)
    {
        Assert.Equal(0, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.refund_reservations WHERE payment_trx_id = $1 AND state = 'pending'", paymentId));
        Assert.Equal(0, await gateway.ScalarAsync("SELECT refund_reserved_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
    }

    private Task<string?> RefundAuditAsync(MerchantClient merchant) => gateway.VaultScalarAsync(
        "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE merchant_id = $1 AND action LIKE 'card.refund%'",
        merchant.MerchantId);
}
