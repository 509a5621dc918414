using System.Net;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Lifecycle;

public sealed class ConcurrencyTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    /// <summary>
    /// 100 partial captures and voids race on one authorization of 10,000 through <paramref name="clients"/>; each
    /// answer is either applied (200) or refused for the amount/state; what was acknowledged is exactly what is stored.
    /// </summary>
    private async Task RaceAsync(MerchantClient merchant, IReadOnlyList<HttpClient> clients)
    {
        var token = await gateway.TokenizeCardAsync(merchant);
        var trx = await AuthorizeAsync(merchant, token, amount: 10_000);
        var id = Str(trx, "trx_id");
        var random = new Random(42);
        var ops = Enumerable.Range(0, 100).Select(i => (Op: i % 3 == 0 ? "void" : "capture", Amount: (long)random.Next(50, 250))).ToList();

        var answers = await Task.WhenAll(ops.Select((o, i) =>
            PostAsync(clients[i % clients.Count], $"/v1/transactions/{id}", new { operation = o.Op, amount = o.Amount })));

        long capturedAck = 0, voidedAck = 0;
        for (var i = 0; i < ops.Count; i++)
        {
            var (status, body, _) = answers[i];
            if (status == HttpStatusCode.OK)
            {
                if (ops[i].Op == "capture")
                {
                    capturedAck += ops[i].Amount;
                }
                else
                {
                    voidedAck += ops[i].Amount;
                }
            }
            else
            {
                // Never refused for contention: only for what remained when its turn came.
                Assert.True(status is HttpStatusCode.UnprocessableEntity or HttpStatusCode.Conflict, $"{(int)status}: {body}");
                Assert.Contains(Code(body), new[] { "amount_exceeds_remaining", "invalid_state" });
            }
        }
        var read = await GetAsync(merchant.Http, $"/v1/transactions/{id}");
        Assert.Equal(capturedAck, Long(read.Body, "captured_amount"));
        Assert.Equal(voidedAck, Long(read.Body, "voided_amount"));
        Assert.True(capturedAck + voidedAck <= 10_000);
        Assert.Equal(answers.Count(a => a.Status == HttpStatusCode.OK) + 1, read.Body!["history"]!.AsArray().Count);
        var verify = await GetAsync(merchant.Http, $"/v1/transactions/{id}/history/verify");
        Assert.True(verify.Body!["valid"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_hundred_parallel_partial_captures_and_voids_never_exceed_the_authorization()
    {
        var merchant = await gateway.CreateMerchantClientAsync();

        await RaceAsync(merchant, [merchant.Http]);
    }

    [Fact]
    public async Task The_same_holds_across_two_host_processes()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var second = gateway.CreateAnotherHost();
        using var secondClient = second.CreateClientFor(merchant);

        await RaceAsync(merchant, [merchant.Http, secondClient]);
    }

    [Fact]
    public async Task One_idempotency_key_across_two_host_processes_moves_money_once()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var second = gateway.CreateAnotherHost();
        using var secondClient = second.CreateClientFor(merchant);
        var token = await gateway.TokenizeCardAsync(merchant);
        var id = Str(await AuthorizeAsync(merchant, token, amount: 1000), "trx_id");
        var key = Guid.NewGuid().ToString();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            PostAsync(i % 2 == 0 ? merchant.Http : secondClient, $"/v1/transactions/{id}", new { operation = "capture", amount = 100 }, key)));

        Assert.All(answers, a => Assert.True(a.Status is HttpStatusCode.OK or HttpStatusCode.Conflict));
        Assert.Equal(100, Long((await GetAsync(merchant.Http, $"/v1/transactions/{id}")).Body, "captured_amount"));
    }
}
