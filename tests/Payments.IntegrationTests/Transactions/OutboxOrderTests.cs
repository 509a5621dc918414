using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Transactions.Data;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// The outbox relay keeps each merchant's events in the order they were written: an event leased by a Host that
/// stopped or crashed mid-delivery holds back that merchant's later events until its lease ends, rather than letting
/// them take its place in the merchant's webhook sequence.
/// </summary>
public sealed class OutboxOrderTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    private const string Pending = "SELECT count(*) FROM transactions.outbox WHERE id = $1 AND dispatched_at IS NULL";

    [Fact]
    public async Task A_merchants_later_event_waits_while_an_older_one_is_leased_then_both_go_out_in_order()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var relay = gateway.HostServices.GetRequiredService<OutboxRelay>();
        await AuthorizeAsync(merchant, token, amount: 100);
        var first = await ScalarAsync(gateway, "SELECT max(id) FROM transactions.outbox WHERE merchant_id = $1", merchant.MerchantId);
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, Pending, first) == 0), "the first event was never relayed");
        // As a Host that leased it and died mid-delivery leaves it: pending, leased for a long while.
        await ExecAsync(gateway, "UPDATE transactions.outbox SET dispatched_at = NULL, locked_until = now() + interval '1 hour' WHERE id = $1", first);

        await AuthorizeAsync(merchant, token, amount: 200);
        var second = await ScalarAsync(gateway, "SELECT max(id) FROM transactions.outbox WHERE merchant_id = $1", merchant.MerchantId);
        Assert.NotEqual(first, second);
        for (var pass = 0; pass < 3; pass++)
        {
            await relay.DrainOnceAsync(CancellationToken.None);
        }

        Assert.Equal(1, await ScalarAsync(gateway, Pending, second));

        await ExecAsync(gateway, "UPDATE transactions.outbox SET locked_until = now() - interval '1 second' WHERE id = $1", first);
        await relay.DrainOnceAsync(CancellationToken.None);
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, Pending, second) == 0), "the second event was never relayed");
        Assert.Equal(0, await ScalarAsync(gateway, Pending, first));
        Assert.Equal(1, await ScalarAsync(gateway,
            "SELECT count(*) FROM transactions.outbox a, transactions.outbox b WHERE a.id = $1 AND b.id = $2 AND a.dispatched_at <= b.dispatched_at",
            first, second));
    }

    [Fact]
    public async Task Another_merchants_events_are_not_held_back_by_a_leased_event()
    {
        var stuck = await gateway.CreateMerchantClientAsync();
        var other = await gateway.CreateMerchantClientAsync();
        var stuckToken = await gateway.TokenizeCardAsync(stuck);
        var otherToken = await gateway.TokenizeCardAsync(other);
        await AuthorizeAsync(stuck, stuckToken);
        var leased = await ScalarAsync(gateway, "SELECT max(id) FROM transactions.outbox WHERE merchant_id = $1", stuck.MerchantId);
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, Pending, leased) == 0), "the event was never relayed");
        await ExecAsync(gateway, "UPDATE transactions.outbox SET dispatched_at = NULL, locked_until = now() + interval '1 hour' WHERE id = $1", leased);

        await AuthorizeAsync(other, otherToken);
        var later = await ScalarAsync(gateway, "SELECT max(id) FROM transactions.outbox WHERE merchant_id = $1", other.MerchantId);

        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, Pending, later) == 0), "the other merchant's event was held back");
        Assert.Equal(1, await ScalarAsync(gateway, Pending, leased));
        await ExecAsync(gateway, "UPDATE transactions.outbox SET dispatched_at = now(), locked_until = NULL WHERE id = $1", leased);
    }

    [Fact]
    public async Task An_unreadable_event_holds_back_only_its_own_merchant()
    {
        var broken = await ScalarAsync(gateway, """
            INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at)
            VALUES ($1, $2, 'payment.authorized', '[]', now()) RETURNING id
            """, "evt_unreadable_" + Guid.NewGuid().ToString("N"), "mer_" + Guid.NewGuid().ToString("N"));
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);

        await AuthorizeAsync(merchant, token);
        var later = await ScalarAsync(gateway, "SELECT max(id) FROM transactions.outbox WHERE merchant_id = $1", merchant.MerchantId);

        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, Pending, later) == 0), "the relay stalled on the unreadable event");
        Assert.Equal(1, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.outbox WHERE id = $1 AND dispatched_at IS NULL AND attempts >= 1", broken));
        await ExecAsync(gateway, "UPDATE transactions.outbox SET dispatched_at = now(), locked_until = NULL WHERE id = $1", broken);
    }

    [Fact]
    public async Task The_sweep_deletes_due_holds_that_cover_no_row_their_module_lacks_and_keeps_the_others()
    {
        var merchant = "mer_" + Guid.NewGuid().ToString("N");
        // Pending, taken by Intents only, leased by "another Host" for the whole test.
        var row = await ScalarAsync(gateway, """
            INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at, delivered_to, locked_until)
            VALUES ($1, $2, 'payment.authorized', '[]', now(), ARRAY['intents'], now() + interval '1 hour') RETURNING id
            """, "evt_" + Guid.NewGuid().ToString("N"), merchant);
        await ExecAsync(gateway, """
            INSERT INTO transactions.outbox_holds (merchant_id, subscriber, outbox_id, failures, retry_at) VALUES
                ($1, 'webhooks', $2, 3, now() - interval '1 second'),  -- due, and the row still lacks Webhooks
                ($1, 'intents', $2, 1, now() - interval '1 second'),   -- due, and Intents has the row: nothing left
                ($1, 'other', $2 + 1000000, 1, now() + interval '1 hour') -- not due
            """, merchant, row);

        await gateway.HostServices.GetRequiredService<Payments.Transactions.Lifecycle.ExpirySweeper>().RunOnceAsync(CancellationToken.None);

        Assert.Equal(2, await ScalarAsync(gateway,
            "SELECT count(*) FROM transactions.outbox_holds WHERE merchant_id = $1 AND subscriber IN ('webhooks', 'other')", merchant));
        Assert.Equal(0, await ScalarAsync(gateway,
            "SELECT count(*) FROM transactions.outbox_holds WHERE merchant_id = $1 AND subscriber = 'intents'", merchant));
        await ExecAsync(gateway, "DELETE FROM transactions.outbox_holds WHERE merchant_id = $1", merchant);
        await ExecAsync(gateway, "UPDATE transactions.outbox SET dispatched_at = now(), locked_until = NULL WHERE id = $1", row);
    }

    [Fact]
    public async Task The_sweep_deletes_delivered_events_past_their_retention_and_keeps_recent_and_undelivered_ones()
    {
        var merchant = "mer_" + Guid.NewGuid().ToString("N");
        async Task<long> InsertAsync(string age, bool delivered) => await ScalarAsync(gateway, $"""
            INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at, dispatched_at, locked_until)
            VALUES ($1, $2, 'payment.authorized', '[]', now() - interval '{age}',
                    {(delivered ? "now() - interval '" + age + "'" : "NULL")}, {(delivered ? "NULL" : "now() + interval '1 hour'")})
            RETURNING id
            """, "evt_" + Guid.NewGuid().ToString("N"), merchant);
        var old = await InsertAsync("8 days", delivered: true);
        var recent = await InsertAsync("1 day", delivered: true);
        var undelivered = await InsertAsync("8 days", delivered: false);

        await gateway.HostServices.GetRequiredService<Payments.Transactions.Lifecycle.ExpirySweeper>().RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.outbox WHERE id = $1", old));
        Assert.Equal(2, await ScalarAsync(gateway, "SELECT count(*) FROM transactions.outbox WHERE id = ANY($1)", new[] { recent, undelivered }));
        await ExecAsync(gateway, "UPDATE transactions.outbox SET dispatched_at = now(), locked_until = NULL WHERE id = $1", undelivered);
    }
}
