using System.Net;
using System.Text.Json.Nodes;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Intents;

public sealed class PaymentIntentTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private static async Task<JsonNode> CreateIntentAsync(MerchantClient merchant, string? token = null, long amount = 2500, string? externalId = null)
    {
        var (status, body, _) = await PostAsync(merchant.Http, "/v1/payment-intents", new Dictionary<string, object?>
        {
            ["amount"] = amount,
            ["currency"] = "GBP",
            ["order_id"] = "order-pi",
            ["external_id"] = externalId,
            ["card_token"] = token,
            ["description"] = "Two tickets",
            ["metadata"] = new Dictionary<string, string> { ["seat"] = "12A" },
        }.Where(p => p.Value is not null).ToDictionary());
        Assert.True(status == HttpStatusCode.Created, $"create intent answered {(int)status}: {body}");
        return body!;
    }

    private async Task<JsonNode> WaitForIntentStatusAsync(MerchantClient merchant, string id, string status)
    {
        JsonNode? last = null;
        var reached = await EventuallyAsync(async () =>
        {
            last = (await GetAsync(merchant.Http, $"/v1/payment-intents/{id}")).Body;
            return Str(last, "status") == status;
        });
        var outbox = reached ? 0 : await ScalarAsync(gateway, "SELECT coalesce(sum(attempts), -1) * 1000 + count(*) FILTER (WHERE dispatched_at IS NULL) FROM transactions.outbox");
        Assert.True(reached, $"outbox {outbox}; intent stayed {Str(last, "status")}, expected {status}; host said:\n{gateway.Logs}");
        return last!;
    }

    [Fact]
    public async Task Token_intent_authorize_then_the_intent_succeeds_linked_to_its_transaction()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var intent = await CreateIntentAsync(merchant, token, externalId: "pi-ext-1");
        Assert.Equal("REQUIRES_CONFIRMATION", Str(intent, "status"));
        Assert.Equal(token, Str(intent, "card_token"));
        Assert.Null(intent["transaction_id"]);

        var (status, trx, _) = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = Str(intent, "id") });

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("AUTHORIZED", Str(trx, "status"));
        Assert.Equal(2500, Long(trx, "order_amount"));
        Assert.Equal("GBP", Str(trx, "currency"));
        Assert.Equal("order-pi", Str(trx, "order_id"));
        Assert.Equal("pi-ext-1", Str(trx, "external_id"));
        Assert.Equal(Str(intent, "id"), Str(trx, "payment_intent_id"));
        var after = await WaitForIntentStatusAsync(merchant, Str(intent, "id"), "SUCCEEDED");
        Assert.Equal(Str(trx, "trx_id"), Str(after, "transaction_id"));
        var byExternal = await GetAsync(merchant.Http, "/v1/transactions/lookup?id_type=external_id&id=pi-ext-1");
        Assert.Equal(Str(trx, "trx_id"), Str(byExternal.Body, "trx_id"));
    }

    [Fact]
    public async Task An_intent_without_a_card_takes_one_at_confirmation_and_authcap_succeeds_it()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var intent = await CreateIntentAsync(merchant);
        Assert.Equal("REQUIRES_PAYMENT_METHOD", Str(intent, "status"));
        var token = await gateway.TokenizeCardAsync(merchant);

        var withoutCard = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authcap", payment_intent_id = Str(intent, "id") });
        var (status, trx, _) = await PostAsync(merchant.Http, "/v1/transactions",
            new { operation = "authcap", payment_intent_id = Str(intent, "id"), card_token = token });

        Assert.Equal(HttpStatusCode.BadRequest, withoutCard.Status);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("CAPTURED", Str(trx, "status"));
        await WaitForIntentStatusAsync(merchant, Str(intent, "id"), "SUCCEEDED");
    }

    [Fact]
    public async Task A_declined_confirmation_sends_the_intent_back_for_a_payment_method_and_it_can_be_retried()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var declining = await gateway.TokenizeCardAsync(merchant, "4000000000009995");
        var good = await gateway.TokenizeCardAsync(merchant);
        var intent = await CreateIntentAsync(merchant, declining);
        var id = Str(intent, "id");

        var declined = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = id });
        Assert.Equal("DECLINED", Str(declined.Body, "status"));
        var back = await WaitForIntentStatusAsync(merchant, id, "REQUIRES_PAYMENT_METHOD");
        Assert.Equal("insufficient_funds", Str(back, "last_decline_code"));

        var retried = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = id, card_token = good });
        Assert.Equal("AUTHORIZED", Str(retried.Body, "status"));
        var done = await WaitForIntentStatusAsync(merchant, id, "SUCCEEDED");
        Assert.Equal(Str(retried.Body, "trx_id"), Str(done, "transaction_id"));
    }

    [Fact]
    public async Task An_intent_with_an_external_id_is_paid_after_a_decline_and_its_external_id_stays_its_own()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var declining = await gateway.TokenizeCardAsync(merchant, "4000000000009995");
        var good = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await CreateIntentAsync(merchant, declining, externalId: "shop-order-77"), "id");
        var other = Str(await CreateIntentAsync(merchant, good, externalId: "shop-order-77"), "id");

        var declined = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = id });
        Assert.Equal("DECLINED", Str(declined.Body, "status"));
        await WaitForIntentStatusAsync(merchant, id, "REQUIRES_PAYMENT_METHOD");
        var paid = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = id, card_token = good });

        Assert.True(paid.Status == HttpStatusCode.Created, $"the confirmation after the decline answered {(int)paid.Status}: {paid.Body}");
        Assert.Equal("AUTHORIZED", Str(paid.Body, "status"));
        Assert.Equal("shop-order-77", Str(paid.Body, "external_id"));
        await WaitForIntentStatusAsync(merchant, id, "SUCCEEDED");
        var byExternal = await GetAsync(merchant.Http, "/v1/transactions/lookup?id_type=external_id&id=shop-order-77");
        Assert.Equal(Str(paid.Body, "trx_id"), Str(byExternal.Body, "trx_id"));

        // Shared within the intent only: another intent's payment and an inline payment with it are still refused.
        var otherIntent = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = other });
        var inline = await PostAsync(merchant.Http, "/v1/transactions", new
        {
            operation = "authorize", amount = 100, currency = "GBP", card_token = good, order_id = "o-1", external_id = "shop-order-77",
        });
        Assert.Equal(HttpStatusCode.Conflict, otherIntent.Status);
        Assert.Equal("duplicate_external_id", Code(otherIntent.Body));
        Assert.Equal(HttpStatusCode.Conflict, inline.Status);
        Assert.Equal("duplicate_external_id", Code(inline.Body));
        Assert.Equal(2, await ScalarAsync(gateway,
            "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1 AND external_id = 'shop-order-77'", merchant.MerchantId));

        // The database holds the rule without the check before the acquirer: a copy of the declined payment under
        // another intent, or under none, is refused by the exclusion constraint.
        foreach (var owner in new object[] { other, DBNull.Value })
        {
            var refused = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => ExecAsync(gateway, """
                INSERT INTO transactions.transactions (trx_id, merchant_id, type, order_amount, currency, order_id, external_id,
                       payment_intent_id, decline_code, authorization_expires_at, created_at, updated_at)
                SELECT 'trx_copy' || md5(random()::text), merchant_id, type, order_amount, currency, order_id, external_id,
                       $2::text, decline_code, authorization_expires_at, created_at, updated_at
                  FROM transactions.transactions WHERE trx_id = $1
                """, Str(declined.Body, "trx_id"), owner));
            Assert.Equal("transactions_external_id_owner", refused.ConstraintName);
        }
    }

    [Fact]
    public async Task A_used_or_canceled_intent_is_409_invalid_state_and_writes_nothing()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var used = await CreateIntentAsync(merchant, token);
        await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = Str(used, "id") });
        var canceled = await CreateIntentAsync(merchant, token);
        var cancel = await PostAsync(merchant.Http, $"/v1/payment-intents/{Str(canceled, "id")}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.Status);
        Assert.Equal("CANCELED", Str(cancel.Body, "status"));
        var before = await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", merchant.MerchantId);

        var again = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = Str(used, "id") });
        var onCanceled = await PostAsync(merchant.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = Str(canceled, "id") });
        var cancelTwice = await PostAsync(merchant.Http, $"/v1/payment-intents/{Str(canceled, "id")}/cancel", null);
        await WaitForIntentStatusAsync(merchant, Str(used, "id"), "SUCCEEDED");
        var cancelUsed = await PostAsync(merchant.Http, $"/v1/payment-intents/{Str(used, "id")}/cancel", null);

        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("invalid_state", Code(again.Body));
        Assert.Equal(HttpStatusCode.Conflict, onCanceled.Status);
        Assert.Equal("invalid_state", Code(onCanceled.Body));
        Assert.Equal(HttpStatusCode.Conflict, cancelTwice.Status);
        Assert.Equal(HttpStatusCode.Conflict, cancelUsed.Status);
        Assert.Equal(before, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.transactions WHERE merchant_id = $1", merchant.MerchantId));
    }

    [Fact]
    public async Task Another_merchants_intent_or_token_is_404()
    {
        var owner = await gateway.CreateMerchantClientAsync();
        var other = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(owner);
        var intent = await CreateIntentAsync(owner, token);

        var read = await GetAsync(other.Http, $"/v1/payment-intents/{Str(intent, "id")}");
        var confirm = await PostAsync(other.Http, "/v1/transactions", new { operation = "authorize", payment_intent_id = Str(intent, "id") });
        var cancel = await PostAsync(other.Http, $"/v1/payment-intents/{Str(intent, "id")}/cancel", null);
        var withForeignToken = await PostAsync(other.Http, "/v1/payment-intents", new { amount = 100, currency = "USD", order_id = "o", card_token = token });

        Assert.Equal(HttpStatusCode.NotFound, read.Status);
        Assert.Equal(HttpStatusCode.NotFound, confirm.Status);
        Assert.Equal("not_found", Code(confirm.Body));
        Assert.Equal(HttpStatusCode.NotFound, cancel.Status);
        Assert.Equal(HttpStatusCode.NotFound, withForeignToken.Status);
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM intents.payment_intents WHERE merchant_id = $1", other.MerchantId));
    }

    [Theory]
    [InlineData("""{"amount":0,"currency":"USD","order_id":"o"}""", "amount")]
    [InlineData("""{"amount":-5,"currency":"USD","order_id":"o"}""", "amount")]
    [InlineData("""{"amount":1.25,"currency":"USD","order_id":"o"}""", "")]
    [InlineData("""{"amount":1000000000000,"currency":"USD","order_id":"o"}""", "amount")]
    [InlineData("""{"amount":100,"currency":"EURO","order_id":"o"}""", "currency")]
    [InlineData("""{"amount":100,"currency":"USD"}""", "order_id")]
    [InlineData("""{"amount":100,"currency":"USD","order_id":"o","description":"card 4242-4242-4242-4242"}""", "description")]
    public async Task A_bad_intent_body_is_400_and_writes_nothing(string json, string field)
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        var (status, body, _) = await PostAsync(merchant.Http, "/v1/payment-intents", json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        if (field.Length > 0)
        {
            Assert.NotNull(body!["errors"]![field]);
        }
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM intents.payment_intents WHERE merchant_id = $1", merchant.MerchantId));
    }
}
