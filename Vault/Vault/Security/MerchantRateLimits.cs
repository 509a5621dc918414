using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Payments.Vault.Observability;

namespace Payments.Vault.Security;

/// <summary>Per-merchant fixed windows of one minute on card submissions and on card uses.</summary>
internal sealed class MerchantRateLimits : IDisposable
{
    private readonly PartitionedRateLimiter<string> submissions;
    private readonly PartitionedRateLimiter<string> uses;

    public MerchantRateLimits(IOptions<VaultOptions> options)
    {
        var o = options.Value.RateLimits;
        submissions = Create(o.SubmissionsPerMinute);
        uses = Create(o.CardUsesPerMinute);
    }

    private static PartitionedRateLimiter<string> Create(int perMinute) =>
        PartitionedRateLimiter.Create<string, string>(merchant => RateLimitPartition.GetFixedWindowLimiter(merchant,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));

    /// <summary>Null when allowed, else the seconds to wait.</summary>
    public int? TrySubmission(string merchantId) => Acquire(submissions, merchantId, "card_submissions");

    public int? TryCardUse(string merchantId) => Acquire(uses, merchantId, "card_uses");

    private static int? Acquire(PartitionedRateLimiter<string> limiter, string merchantId, string name)
    {
        using var lease = limiter.AttemptAcquire(merchantId);
        if (lease.IsAcquired)
        {
            return null;
        }
        VaultTelemetry.RateLimited(name);
        return lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 60;
    }

    public void Dispose()
    {
        submissions.Dispose();
        uses.Dispose();
    }
}
