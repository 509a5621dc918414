using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Ids;
using Payments.Vault.Audit;

namespace Payments.Vault.Security;

/// <summary>
/// Failed card-entry attempts (an unknown intent or a wrong client secret, card data refused) per intent and per source
/// address, in fixed windows of one minute: once either is spent, every post of that intent or address is answered
/// 429 until the window ends, so neither client secrets nor card numbers can be tried at speed. Successful posts
/// spend nothing. Each failure is audited (PCI DSS 10.2.1.4, 8.3.4).
/// </summary>
internal sealed class FailedCardEntryLimits : IDisposable
{
    private readonly PartitionedRateLimiter<string> perIntent;
    private readonly PartitionedRateLimiter<string> perAddress;
    private readonly AuditLog audit;

    public FailedCardEntryLimits(IOptions<VaultOptions> options, AuditLog audit)
    {
        var o = options.Value.RateLimits;
        perIntent = Create(o.FailedCardEntriesPerIntentPerMinute);
        perAddress = Create(o.FailedCardEntriesPerAddressPerMinute);
        this.audit = audit;
    }

    private static PartitionedRateLimiter<string> Create(int perMinute) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key,
            _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));

    /// <summary>A request over a socket always has a peer; the in-memory test server has none and is not limited by it.</summary>
    private static string? Address(HttpContext http) => http.Connection.RemoteIpAddress?.ToString();

    /// <summary>True when this intent or address has no failed attempt left in its window: refuse before any work.</summary>
    public bool Exhausted(HttpContext http, string intentId) =>
        perIntent.GetStatistics(intentId)?.CurrentAvailablePermits <= 0 ||
        (Address(http) is { } a && perAddress.GetStatistics(a)?.CurrentAvailablePermits <= 0);

    /// <summary>Spends one failed attempt of the intent and of the address, and audits it.</summary>
    public async Task FailedAsync(HttpContext http, string intentId, string? merchantId, string reason)
    {
        perIntent.AttemptAcquire(intentId).Dispose();
        if (Address(http) is { } address)
        {
            perAddress.AttemptAcquire(address).Dispose();
        }
        await audit.AppendAsync("card_entry.refused", merchantId, Subject(intentId), Detail(intentId, reason));
    }

    /// <summary>A refusal for the limit itself, audited too (a burst of these is an attack in progress).</summary>
    public Task LimitedAsync(string intentId) =>
        audit.AppendAsync("card_entry.rate_limited", null, Subject(intentId), Detail(intentId, null));

    /// <summary>
    /// The intent id comes from the URL, which anyone can write: only an id of the intent's shape is recorded, so a card
    /// number typed into the path never reaches the audit log, which is kept for 13 months and never rewritten.
    /// </summary>
    private static string? Subject(string intentId) => PrefixedId.IsValid("tki", intentId) ? intentId : null;

    private static Dictionary<string, object?> Detail(string intentId, string? reason)
    {
        var detail = new Dictionary<string, object?>();
        if (reason is not null)
        {
            detail["reason"] = reason;
        }
        if (Subject(intentId) is null)
        {
            detail["intent_id"] = "malformed";
        }
        return detail;
    }

    public void Dispose()
    {
        perIntent.Dispose();
        perAddress.Dispose();
    }
}
