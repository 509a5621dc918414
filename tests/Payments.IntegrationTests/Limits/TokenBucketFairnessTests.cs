using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.RateLimiting;
using Payments.IntegrationTests.Transactions;

namespace Payments.IntegrationTests.Limits;

/// <summary>
/// A request is refused when the merchant's bucket in Redis is empty, not because others spent the tokens fetched for
/// it. Requests that find no local tokens wait for a chunk fetch, which takes at most 100 tokens and counts only the
/// requests waiting when it starts; a request that three fetches left out was refused with the bucket still holding
/// tokens (a CI run saw one 429 in a burst of 20 at 25/s on a loaded machine). It now waits up to 16 fetches while
/// tokens remain, so up to about 1,600 requests waiting at once on one Host for one merchant.
/// </summary>
public sealed class TokenBucketFairnessTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Fact]
    public async Task A_burst_larger_than_one_fetch_but_within_the_bucket_is_admitted_in_full()
    {
        var bucket = gateway.HostServices.GetRequiredService<DistributedTokenBucket>();
        var merchant = "mer_fair_" + Guid.NewGuid().ToString("N");
        var limit = new MerchantLimit(Rps: 5000, Burst: 5000);

        // Five hundred at once: five fetches' worth, a tenth of the bucket.
        var decisions = await Task.WhenAll(Enumerable.Range(0, 500).Select(_ =>
            Task.Run(async () => await bucket.AcquireAsync(merchant, limit, CancellationToken.None))));

        Assert.Equal(0, decisions.Count(d => !d.Allowed));
    }
}
