using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Payments.TestKit;
using Payments.Transactions;
using static Payments.IntegrationTests.Transactions.Api;
using static Payments.IntegrationTests.Transactions.RelayTestKit;

namespace Payments.IntegrationTests.Transactions;

/// <summary>A Host whose relay cuts a module's call off after 5 s (the default is 20 s), so tests can outlast it.</summary>
public sealed class ShortHandlerTimeoutFixture : TransactionsFixture
{
    protected override void ConfigureHost(Dictionary<string, string?> settings)
    {
        base.ConfigureHost(settings);
        settings["Transactions:OutboxHandlerTimeout"] = "00:00:05";
    }
}

/// <summary>
/// What keeps a relay pass inside its lease (ADR 35): a module's call is cut off at its timeout and counted as that
/// module's failure, and a pass whose rows another Host took meanwhile does not write its marks over them.
/// </summary>
public sealed class OutboxLeaseTests(ShortHandlerTimeoutFixture gateway) : IClassFixture<ShortHandlerTimeoutFixture>
{
    [Fact]
    public async Task A_module_call_slower_than_its_timeout_is_cut_off_rolled_back_and_held_for_a_retry()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await SlowWebhookEventsAsync(gateway, "test_slow_cut", merchant.MerchantId, seconds: 30);
        try
        {
            await AuthorizeAsync(merchant, token);
            var (row, eventId) = await LastEventAsync(gateway, merchant.MerchantId);

            // Cut off at 5 s, long before the 30-second statement ends: held for Webhooks' retry, not tried again one
            // by one in the same pass.
            Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway,
                "SELECT count(*) FROM transactions.outbox_holds WHERE merchant_id = $1 AND outbox_id = $2", merchant.MerchantId, row) == 1,
                TimeSpan.FromSeconds(20)), "the slow call was not cut off within 20 s");
            // Its transaction went with it, and Intents, which was not slow, has the event.
            Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM webhooks.events WHERE id = $1", eventId));
            Assert.Equal(1, await ScalarAsync(gateway,
                "SELECT count(*) FROM transactions.outbox WHERE id = $1 AND delivered_to = ARRAY['Payments.Intents.Handlers.TransactionEventHandler']",
                row));
        }
        finally
        {
            await RemoveTriggerAsync(gateway, "test_slow_cut");
        }
    }

    [Fact]
    public async Task A_pass_whose_rows_another_host_took_meanwhile_leaves_their_marks_alone()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        // Shorter than the 5 s timeout, long enough for the test to act while it runs.
        await SlowWebhookEventsAsync(gateway, "test_slow_lease", merchant.MerchantId, seconds: 3);
        try
        {
            await AuthorizeAsync(merchant, token);
            var (row, eventId) = await LastEventAsync(gateway, merchant.MerchantId);
            await WebhooksSleepingAsync(gateway);

            // As if this pass's lease had run out and another Host had taken the row: its lease, no marks yet.
            await ExecAsync(gateway, "UPDATE transactions.outbox SET locked_until = now() + interval '1 hour' WHERE id = $1", row);
            Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway,
                "SELECT count(*) FROM webhooks.events WHERE id = $1", eventId) == 1, TimeSpan.FromSeconds(10)),
                "Webhooks never recorded the event (it should finish within its timeout)");

            // The pass ends right after Webhooks' commit; for 2 s after it the row stays the other Host's.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (DateTime.UtcNow < deadline)
            {
                Assert.Equal(1, await ScalarAsync(gateway, """
                    SELECT count(*) FROM transactions.outbox
                     WHERE id = $1 AND dispatched_at IS NULL AND delivered_to = '{}' AND locked_until > now() + interval '59 minutes'
                    """, row));
                await Task.Delay(50);
            }
        }
        finally
        {
            await RemoveTriggerAsync(gateway, "test_slow_lease");
            // The other Host "crashed": its lease ends and the relay delivers the row again (handlers are idempotent).
            await ExecAsync(gateway, "UPDATE transactions.outbox SET locked_until = now() - interval '1 second' WHERE merchant_id = $1 AND dispatched_at IS NULL",
                merchant.MerchantId);
        }
    }
}

/// <summary>A Host of its own, for the one test that stops it.</summary>
public sealed class StoppedHostFixture : TransactionsFixture;

/// <summary>A Host stopping mid-delivery keeps what each module already took (ADR 35).</summary>
public sealed class OutboxStopTests(StoppedHostFixture gateway) : IClassFixture<StoppedHostFixture>
{
    [Fact]
    public async Task A_host_stopping_mid_delivery_marks_what_a_module_took_and_hands_the_row_back_at_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await SlowWebhookEventsAsync(gateway, "test_slow_stop", merchant.MerchantId, seconds: 30);
        var (created, intent, _) = await PostAsync(merchant.Http, "/v1/payment-intents",
            new { amount = 1200, currency = "EUR", order_id = "order-stop", card_token = token });
        Assert.Equal(System.Net.HttpStatusCode.Created, created);
        var intentId = intent!["id"]!.GetValue<string>();
        Assert.Equal(System.Net.HttpStatusCode.Created, (await PostAsync(merchant.Http, "/v1/transactions",
            new { operation = "authorize", payment_intent_id = intentId })).Status);
        var (row, _) = await LastEventAsync(gateway, merchant.MerchantId);
        await WebhooksSleepingAsync(gateway);
        Assert.Equal("SUCCEEDED", await IntentStatusAsync(merchant, intentId));

        // Intents took the event; Webhooks is still at it when the Host stops.
        gateway.HostServices.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().StopApplication();

        // Intents' delivery is kept (it does not run again after a restart); the row is free for the next Host at once,
        // and nothing is held against Webhooks for a failure that was the stop itself.
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, """
            SELECT count(*) FROM transactions.outbox
             WHERE id = $1 AND dispatched_at IS NULL AND locked_until IS NULL
               AND delivered_to = ARRAY['Payments.Intents.Handlers.TransactionEventHandler']
            """, row) == 1, TimeSpan.FromSeconds(10)), "the row was not marked and handed back at the stop");
        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.outbox_holds WHERE merchant_id = $1", merchant.MerchantId));
        await RemoveTriggerAsync(gateway, "test_slow_stop");
    }
}

/// <summary>The relay's call timeout must leave the lease its margin: a setting outside it stops start-up.</summary>
public sealed class OutboxHandlerTimeoutSettingTests
{
    [Theory]
    [InlineData("00:00:00", false)]
    [InlineData("00:00:26", false)]
    [InlineData("00:01:00", false)]
    [InlineData("00:00:25", true)]
    [InlineData("00:00:02", true)]
    public void Only_a_timeout_within_the_lease_s_margin_is_taken(string timeout, bool valid)
    {
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Transactions:OutboxHandlerTimeout"] = timeout }).Build();
        var services = new ServiceCollection();
        TransactionsModule.Definition.AddServices(services, config);
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<TransactionsOptions>>();
        if (valid)
        {
            Assert.Equal(TimeSpan.Parse(timeout, System.Globalization.CultureInfo.InvariantCulture), options.Value.OutboxHandlerTimeout);
        }
        else
        {
            var e = Assert.Throws<OptionsValidationException>(() => options.Value);
            Assert.Contains("OutboxHandlerTimeout", e.Message, StringComparison.Ordinal);
        }
    }
}
