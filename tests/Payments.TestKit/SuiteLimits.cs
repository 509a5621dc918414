using System.Net;

namespace Payments.TestKit;

/// <summary>
/// The limits every test suite runs under: merchants' request rates lifted far above what any test sends, and
/// admission control's queue long and patient, so a race or load test is never refused by the luck of timing. Tests of
/// the limits themselves set their own (<c>merchant set-limits</c>, <c>Admission:*</c>).
/// </summary>
public static class SuiteLimits
{
    public static readonly IReadOnlyDictionary<string, string?> HostSettings = new Dictionary<string, string?>
    {
        ["RateLimits:DefaultRps"] = "1000000",
        // A loaded test machine can stall a Redis answer past the production 100 ms; tests of a Redis outage stop it.
        ["RateLimits:RedisTimeout"] = "00:00:05",
        ["Admission:QueueLimit"] = "100000",
        ["Admission:QueueTimeout"] = "00:01:00",
        ["Admission:OverloadQueueLimit"] = "100000",
        ["Admission:OverloadQueueTimeout"] = "00:01:00",
        // Audit anchors (one file per Vault database) in the temp directory, not in the home of whoever runs the tests.
        ["Vault:Audit:AnchorDirectory"] = Path.Combine(Path.GetTempPath(), "payments-audit-anchors"),
    };
}

/// <summary>The Vault's side of <see cref="SuiteLimits"/>: admission control's queue long and patient.</summary>
public static class SuiteVaultLimits
{
    public static readonly IReadOnlyDictionary<string, string?> VaultSettings = new Dictionary<string, string?>
    {
        ["Admission:QueueLimit"] = "100000",
        ["Admission:QueueTimeout"] = "00:01:00",
        ["Admission:OverloadQueueLimit"] = "100000",
        ["Admission:OverloadQueueTimeout"] = "00:01:00",
        // Audit anchors (one file per Vault database) in the temp directory, not in the home of whoever runs the tests.
        ["Vault:Audit:AnchorDirectory"] = Path.Combine(Path.GetTempPath(), "payments-audit-anchors"),
    };
}

/// <summary>Fails a call the merchant rate limiter or admission control refused when the test did not ask for that.</summary>
public sealed class UnexpectedRefusalGuard : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.TooManyRequests && response.Headers.Contains("RateLimit-Policy"))
        {
            throw new InvalidOperationException($"{request.Method} {request.RequestUri?.AbsolutePath} was rate limited (429), which this test did not ask for.");
        }
        if (response.StatusCode == HttpStatusCode.ServiceUnavailable
            && (await response.Content.ReadAsStringAsync(cancellationToken)).Contains("\"overloaded\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{request.Method} {request.RequestUri?.AbsolutePath} was shed (503 overloaded), which this test did not ask for.");
        }
        return response;
    }
}
