using System.Net;
using System.Text.Json.Nodes;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Lifecycle;

/// <summary>
/// A change's time is taken before it waits for the payment's lock, so one that waited behind another (a settlement
/// behind a chargeback, a capture behind a refund), or ran after a clock step back, carried an earlier time than the
/// change it follows: history out of order by time and <c>updated_at</c> going backwards. The clock is stepped back
/// here, which makes the same ordering certain instead of a race.
/// </summary>
public sealed class HistoryTimeTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Fact]
    public async Task No_history_entry_is_dated_before_the_one_it_follows_nor_updated_at_moved_back()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        var payment = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        await CaptureOrVoidAsync(merchant, payment, "capture", 600);
        // Before the step back: a refund goes through the Vault, whose service tokens carry the Host's time.
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(merchant.Http, $"/v1/transactions/{payment}/refunds", new { amount = 50 })).Status);
        var chargeback = await PostAsync(merchant.Http, "/v1/sandbox/chargebacks", new { trx_id = payment, amount = 100, reason_code = "10.4" });
        Assert.Equal(HttpStatusCode.Created, chargeback.Status);
        var before = (await GetAsync(merchant.Http, $"/v1/transactions/{payment}")).Body!;

        gateway.Clock.Advance(TimeSpan.FromSeconds(-30));
        try
        {
            await CaptureOrVoidAsync(merchant, payment, "capture", 100);
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(merchant.Http, "/v1/sandbox/settle", null)).Status);
            Assert.Equal(HttpStatusCode.Created, (await PostAsync(merchant.Http, "/v1/sandbox/chargebacks",
                new { trx_id = payment, amount = 25, reason_code = "10.4" })).Status);
            Assert.Equal(HttpStatusCode.OK, (await PostAsync(merchant.Http, "/v1/sandbox/expire-authorizations",
                new { as_of = gateway.Clock.GetUtcNow().AddDays(8) })).Status);
        }
        finally
        {
            gateway.Clock.Advance(TimeSpan.FromSeconds(30));
        }

        var after = (await GetAsync(merchant.Http, $"/v1/transactions/{payment}")).Body!;
        var history = after["history"]!.AsArray().Select(e => (Operation: Str(e, "operation"), At: At(e!["at"]))).ToList();
        Assert.Equal(["AUTHORIZE", "CAPTURE", "REFUND", "CHARGEBACK", "CAPTURE", "SETTLE", "CHARGEBACK", "EXPIRE"], history.Select(h => h.Operation).ToArray());
        for (var i = 1; i < history.Count; i++)
        {
            Assert.True(history[i].At >= history[i - 1].At,
                $"{history[i].Operation} at {history[i].At:O} is dated before {history[i - 1].Operation} at {history[i - 1].At:O}");
        }
        Assert.True(At(after["updated_at"]) >= At(before["updated_at"]), $"updated_at moved back: {before["updated_at"]} then {after["updated_at"]}");
        Assert.Equal(history[^1].At, At(after["updated_at"]));
        Assert.True((await GetAsync(merchant.Http, $"/v1/transactions/{payment}/history/verify")).Body!["valid"]!.GetValue<bool>());
    }

    private static DateTimeOffset At(JsonNode? node) => DateTimeOffset.Parse(node!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
}
