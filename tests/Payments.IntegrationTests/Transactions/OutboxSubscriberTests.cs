using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Transactions.Data;
using static Payments.IntegrationTests.Transactions.Api;
using static Payments.IntegrationTests.Transactions.RelayTestKit;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// Each module takes the relay's events on its own (ADR 35): when Webhooks fails an event, Intents has applied it once
/// and does not run it again while Webhooks retries, Intents goes on taking the merchant's later events, and the event
/// is dispatched once both have it.
/// </summary>
public sealed class OutboxSubscriberTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Fact]
    public async Task A_module_failing_an_event_neither_holds_it_back_from_another_nor_makes_it_run_again()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var (created, intent, _) = await PostAsync(merchant.Http, "/v1/payment-intents",
            new { amount = 2500, currency = "GBP", order_id = "order-sub", card_token = token });
        Assert.Equal(System.Net.HttpStatusCode.Created, created);
        // Every UPDATE statement run on intents (with its text), and Webhooks refusing this merchant's events.
        await ExecAsync(gateway, """
            CREATE TABLE intents.test_updates (query text NOT NULL);
            CREATE FUNCTION intents.test_count() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO intents.test_updates VALUES (current_query()); RETURN NULL; END $$;
            CREATE TRIGGER test_count AFTER UPDATE ON intents.payment_intents
                FOR EACH STATEMENT EXECUTE FUNCTION intents.test_count();
            """);
        await RefuseWebhookEventsAsync("test_refuse", merchant.MerchantId);
        try
        {
            var (authorized, _, _) = await PostAsync(merchant.Http, "/v1/transactions",
                new { operation = "authorize", payment_intent_id = intent!["id"]!.GetValue<string>() });
            Assert.Equal(System.Net.HttpStatusCode.Created, authorized);
            var eventId = await EventIdAsync(merchant.MerchantId);

            // Webhooks failed the batch and then the event on its own; it holds the merchant back from itself.
            await WebhooksFailedAsync(eventId);
            await PinHoldAsync(merchant.MerchantId, eventId);
            Assert.Equal("SUCCEEDED", await IntentStatusAsync(merchant, intent["id"]!.GetValue<string>()));
            // Two: the confirming request's own update, and Intents' handler taking the event (which then changes nothing).
            Assert.Equal(2, await ScalarAsync(gateway, Succeeding));
            Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM webhooks.events WHERE id = $1", eventId));
            // The row went back at once, with Intents' mark.
            Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, """
                SELECT count(*) FROM transactions.outbox
                 WHERE event_id = $1 AND dispatched_at IS NULL AND locked_until IS NULL AND cardinality(delivered_to) = 1
                """, eventId) == 1), "the row was not handed back with Intents' mark");

            // Webhooks recovers; the retry (its hold is due) goes to Webhooks alone, and ends the hold.
            await AcceptWebhookEventsAsync("test_refuse");
            await RetryNowAsync(merchant.MerchantId);
            Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway,
                "SELECT count(*) FROM transactions.outbox WHERE event_id = $1 AND dispatched_at IS NOT NULL", eventId) == 1), "never dispatched");
            Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM webhooks.events WHERE id = $1", eventId));
            Assert.Equal(2, await ScalarAsync(gateway, Succeeding));
            Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.outbox_holds WHERE merchant_id = $1", merchant.MerchantId));
        }
        finally
        {
            await AcceptWebhookEventsAsync("test_refuse");
            await ExecAsync(gateway, "DROP TRIGGER IF EXISTS test_count ON intents.payment_intents");
        }
    }

    [Fact]
    public async Task A_module_that_failed_a_merchants_event_records_the_merchants_later_events_after_it()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await RefuseWebhookEventsAsync("test_refuse_authorized", merchant.MerchantId, "transaction.authorized");
        try
        {
            var trx = await AuthorizeAsync(merchant, token);
            var authorized = await EventIdAsync(merchant.MerchantId);
            await WebhooksFailedAsync(authorized);
            await PinHoldAsync(merchant.MerchantId, authorized);
            await CaptureOrVoidAsync(merchant, trx["trx_id"]!.GetValue<string>(), "capture");
            var captured = await EventIdAsync(merchant.MerchantId);
            Assert.NotEqual(authorized, captured);

            // The capture's event waits behind the failed one (Webhooks would take it: only the authorization is
            // refused): recorded first, it would take the earlier sequence.
            await gateway.HostServices.GetRequiredService<OutboxRelay>().DrainOnceAsync(CancellationToken.None);
            // By id: the merchant's tokenization is recorded too, by the tokenization feed, whenever it polls.
            Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM webhooks.events WHERE id = ANY($1)", (object)new[] { authorized, captured }));

            await RecoveredInOrderAsync("test_refuse_authorized", merchant.MerchantId, authorized, captured);
        }
        finally
        {
            await AcceptWebhookEventsAsync("test_refuse_authorized");
        }
    }

    [Fact]
    public async Task While_a_module_keeps_failing_a_merchants_event_another_module_takes_the_merchants_later_events()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        async Task<string> IntentAsync(string order)
        {
            var (created, intent, _) = await PostAsync(merchant.Http, "/v1/payment-intents",
                new { amount = 1800, currency = "EUR", order_id = order, card_token = token });
            Assert.Equal(System.Net.HttpStatusCode.Created, created);
            return intent!["id"]!.GetValue<string>();
        }
        var first = await IntentAsync("order-held-1");
        var second = await IntentAsync("order-held-2");
        // Only the first payment's events: Webhooks would take the second's, so only its hold keeps them back.
        await RefuseWebhookEventsAsync("test_refuse_lasting", merchant.MerchantId, bodyContains: first);
        try
        {
            Assert.Equal(System.Net.HttpStatusCode.Created, (await PostAsync(merchant.Http, "/v1/transactions",
                new { operation = "authorize", payment_intent_id = first })).Status);
            var failed = await EventIdAsync(merchant.MerchantId);
            await WebhooksFailedAsync(failed);
            await PinHoldAsync(merchant.MerchantId, failed);

            Assert.Equal(System.Net.HttpStatusCode.Created, (await PostAsync(merchant.Http, "/v1/transactions",
                new { operation = "authorize", payment_intent_id = second })).Status);
            var later = await EventIdAsync(merchant.MerchantId);
            Assert.NotEqual(failed, later);

            // Intents applies the later event now, not after Webhooks' retry; Webhooks has neither.
            Assert.Equal("SUCCEEDED", await IntentStatusAsync(merchant, second));
            Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM webhooks.events WHERE id = ANY($1)", (object)new[] { failed, later }));
            Assert.Equal(2, await ScalarAsync(gateway,
                "SELECT count(*) FROM transactions.outbox WHERE event_id = ANY($1) AND dispatched_at IS NULL", (object)new[] { failed, later }));

            await RecoveredInOrderAsync("test_refuse_lasting", merchant.MerchantId, failed, later);
        }
        finally
        {
            await AcceptWebhookEventsAsync("test_refuse_lasting");
        }
    }

    [Fact]
    public async Task A_pass_with_a_refused_event_and_an_unreadable_one_of_the_same_merchant_keeps_its_marks()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await RefuseWebhookEventsAsync("test_refuse_mixed", merchant.MerchantId);
        long refused, unreadable;
        // While the test holds the relay's lock no relay leases, so one pass takes both rows.
        await using (var relayLock = new Npgsql.NpgsqlConnection(gateway.HostConnectionString))
        {
            await relayLock.OpenAsync();
            await using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_lock({OutboxRelay.LeaseLock})", relayLock))
            {
                await take.ExecuteNonQueryAsync();
            }
            await AuthorizeAsync(merchant, token);
            refused = await ScalarAsync(gateway, "SELECT max(id) FROM transactions.outbox WHERE merchant_id = $1", merchant.MerchantId);
            unreadable = await ScalarAsync(gateway, """
                INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at)
                VALUES ($1, $2, 'payment.authorized', '[]', now()) RETURNING id
                """, "evt_unreadable_" + Guid.NewGuid().ToString("N"), merchant.MerchantId);
            // A session lock: closing a pooled connection would not release it.
            await using var release = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_unlock({OutboxRelay.LeaseLock})", relayLock);
            await release.ExecuteNonQueryAsync();
        }
        try
        {
            // Intents takes the first and Webhooks refuses it; neither can read the second. Webhooks is then held at
            // the first row and Intents at the second, and the pass's marks stand.
            await gateway.HostServices.GetRequiredService<OutboxRelay>().DrainOnceAsync(CancellationToken.None);
            Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, """
                SELECT count(*) FROM transactions.outbox
                 WHERE id = $1 AND locked_until IS NULL AND delivered_to = ARRAY['Payments.Intents.Handlers.TransactionEventHandler']
                """, refused) == 1, TimeSpan.FromSeconds(10)), "the pass's marks were lost");
            Assert.Equal(1, await ScalarAsync(gateway, """
                SELECT count(*) FROM transactions.outbox_holds
                 WHERE merchant_id = $1 AND subscriber LIKE 'Payments.Webhooks.%' AND outbox_id = $2
                """, merchant.MerchantId, refused));
            Assert.Equal(1, await ScalarAsync(gateway, """
                SELECT count(*) FROM transactions.outbox_holds
                 WHERE merchant_id = $1 AND subscriber LIKE 'Payments.Intents.%' AND outbox_id = $2
                """, merchant.MerchantId, unreadable));
        }
        finally
        {
            await AcceptWebhookEventsAsync("test_refuse_mixed");
            await ExecAsync(gateway, "UPDATE transactions.outbox SET dispatched_at = now(), locked_until = NULL WHERE id = $1", unreadable);
        }
    }

    [Fact]
    public async Task A_module_that_failed_an_event_gets_it_again_within_seconds_once_it_recovers()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await RefuseWebhookEventsAsync("test_refuse_once", merchant.MerchantId);
        try
        {
            await AuthorizeAsync(merchant, token);
            var eventId = await EventIdAsync(merchant.MerchantId);
            await WebhooksFailedAsync(eventId);
            await AcceptWebhookEventsAsync("test_refuse_once");

            // The first retry comes a second or two after the failure (then 2, 4 … up to the 60 s lease), so a passing
            // fault holds the merchant's later events back from the failing module for seconds, not a minute.
            Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway,
                "SELECT count(*) FROM webhooks.events WHERE id = $1", eventId) == 1, TimeSpan.FromSeconds(15)), "not retried within 15 s");
        }
        finally
        {
            await AcceptWebhookEventsAsync("test_refuse_once");
        }
    }

    /// <summary>
    /// Waits for Webhooks' hold on the merchant from the event's row (written by the pass that failed it), then puts
    /// its retry an hour away: a lasting fault, and no retry of the relay's own during the test.
    /// </summary>
    private async Task PinHoldAsync(string merchantId, string eventId)
    {
        const string Held = """
            SELECT count(*) FROM transactions.outbox_holds h JOIN transactions.outbox o ON o.id = h.outbox_id
             WHERE h.merchant_id = $1 AND o.event_id = $2 AND h.subscriber LIKE 'Payments.Webhooks.%'
            """;
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, Held, merchantId, eventId) == 1), "Webhooks never held the merchant");
        await ExecAsync(gateway, "UPDATE transactions.outbox_holds SET retry_at = now() + interval '1 hour' WHERE merchant_id = $1", merchantId);
    }

    /// <summary>Webhooks recovers and retries: both events dispatched, recorded in the merchant's order.</summary>
    private async Task RecoveredInOrderAsync(string trigger, string merchantId, string first, string later)
    {
        await AcceptWebhookEventsAsync(trigger);
        await RetryNowAsync(merchantId);
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway,
            "SELECT count(*) FROM transactions.outbox WHERE event_id = ANY($1) AND dispatched_at IS NOT NULL", (object)new[] { first, later }) == 2),
            "never dispatched");
        Assert.Equal(1, await ScalarAsync(gateway, """
            SELECT count(*) FROM webhooks.events a, webhooks.events c WHERE a.id = $1 AND c.id = $2 AND a.sequence < c.sequence
            """, first, later));
    }

    /// <summary>Makes the merchant's holds due and runs a relay pass.</summary>
    private async Task RetryNowAsync(string merchantId)
    {
        await ExecAsync(gateway, "UPDATE transactions.outbox_holds SET retry_at = now() - interval '1 second' WHERE merchant_id = $1", merchantId);
        await gateway.HostServices.GetRequiredService<OutboxRelay>().DrainOnceAsync(CancellationToken.None);
    }

    /// <summary>The Intents handler's statement for a payment that went through (other updates of intents are not counted).</summary>
    private const string Succeeding = "SELECT count(*) FROM intents.test_updates WHERE query LIKE '%SET status = ''SUCCEEDED''%'";

    /// <summary>Waits for the relay's warning naming the event: Webhooks failed it on its own, after failing its batch.</summary>
    private async Task WebhooksFailedAsync(string eventId) =>
        Assert.True(await EventuallyAsync(() => Task.FromResult(gateway.Logs.Lines.Any(l => l.Contains(eventId, StringComparison.Ordinal)))),
            $"Webhooks never failed the event; host said:\n{gateway.Logs}");

    private Task RefuseWebhookEventsAsync(string trigger, string merchantId, string? type = null, string? bodyContains = null) =>
        RelayTestKit.RefuseWebhookEventsAsync(gateway, trigger, merchantId, type, bodyContains);

    private Task AcceptWebhookEventsAsync(string trigger) => RelayTestKit.RemoveTriggerAsync(gateway, trigger);

    private async Task<string> EventIdAsync(string merchantId) => (await LastEventAsync(gateway, merchantId)).EventId;
}
