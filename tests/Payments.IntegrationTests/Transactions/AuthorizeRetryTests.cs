using System.Net;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// The acquirer approved, then the Host failed to record it: the merchant's retry with the same Idempotency-Key
/// records that approval, and the cardholder's account carries one authorization, not two.
/// </summary>
public sealed class AuthorizeRetryTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Theory]
    [InlineData("authorize", "AUTHORIZED")]
    [InlineData("authcap", "CAPTURED")]
    public async Task A_retry_after_the_host_failed_to_record_an_approval_records_that_approval_not_a_second_one(string operation, string status)
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..12];
        var body = new { operation, amount = 4200, currency = "USD", card_token = token, order_id = orderId };
        var key = Guid.NewGuid().ToString();

        // The Host's write fails after the Vault answered, as a lost database would make it.
        await using (await gateway.FailTransactionInsertsAsync($"NEW.order_id = '{orderId}'"))
        {
            var failed = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);
            Assert.True((int)failed.Status >= 500, $"the failed write answered {(int)failed.Status}");
        }
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id = $1", orderId));
        // The retry comes two days later: the authorization's window still counts from the acquirer's answer.
        await gateway.VaultScalarAsync("""
            UPDATE vault.acquirer_attempts SET answered_at = answered_at - interval '2 days', created_at = created_at - interval '2 days'
             WHERE merchant_id = $1 RETURNING ''
            """, merchant.MerchantId);
        var answeredAt = await gateway.VaultScalarAsync("SELECT extract(epoch FROM answered_at)::text FROM vault.acquirer_attempts WHERE merchant_id = $1",
            merchant.MerchantId);

        var retried = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);
        var replayed = await SendAsync(merchant.Http, HttpMethod.Post, "/v1/transactions", body, key);

        Assert.Equal(HttpStatusCode.Created, retried.Status);
        Assert.Equal(status, Str(retried.Body, "status"));
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE order_id = $1", orderId));
        Assert.Equal("true", replayed.Response.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(Str(retried.Body, "trx_id"), Str(replayed.Body, "trx_id"));
        // The acquirer was asked once; the retry got its first answer back.
        var action = operation == "authcap" ? "card.authcap" : "card.authorize";
        Assert.Equal($"{action},{action}.repeated", await gateway.VaultScalarAsync(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.auth%'", token));
        Assert.Equal(Str(retried.Body, "authorization_code"), await gateway.VaultScalarAsync(
            "SELECT authorization_code FROM vault.acquirer_attempts WHERE merchant_id = $1", merchant.MerchantId));
        Assert.Equal(1, await ScalarAsync(gateway, """
            SELECT count(*) FROM transactions.transactions
             WHERE order_id = $1 AND abs(extract(epoch FROM authorization_expires_at - to_timestamp($2::float8)) - 7 * 86400) < 1
            """, orderId, answeredAt!));
    }

    [Fact]
    public async Task Without_an_idempotency_key_each_request_is_a_new_authorization()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);

        var first = await AuthorizeAsync(merchant, token, amount: 700);
        var second = await AuthorizeAsync(merchant, token, amount: 700);

        Assert.NotEqual(Str(first, "trx_id"), Str(second, "trx_id"));
        Assert.Equal("card.authorize,card.authorize", await gateway.VaultScalarAsync(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.auth%'", token));
        Assert.Equal("0", await gateway.VaultScalarAsync(
            "SELECT count(*)::text FROM vault.acquirer_attempts WHERE merchant_id = $1", merchant.MerchantId));
    }
}
