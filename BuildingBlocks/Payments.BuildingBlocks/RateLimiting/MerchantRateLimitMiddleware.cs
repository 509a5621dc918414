using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Observability;

namespace Payments.BuildingBlocks.RateLimiting;

/// <summary>
/// After authentication, before idempotency: every authenticated merchant route takes a token from its merchant's
/// bucket, answers with the IETF <c>RateLimit-Policy</c> and <c>RateLimit</c> headers, and past the limit is refused
/// with 429 <c>rate_limited</c> and <c>Retry-After</c> before its <c>Idempotency-Key</c> is looked at. Anonymous routes
/// (the token route has failure limits of its own) are not limited here.
/// </summary>
public sealed class MerchantRateLimitMiddleware(RequestDelegate next, DistributedTokenBucket buckets, IMerchantLimits limits)
{
    public const string PolicyName = "merchant";

    /// <summary>The <c>limit</c> label of this limit's refusals (as <c>token_failures</c>, the Vault's <c>card_uses</c>).</summary>
    public const string LimitName = "merchant_requests";

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is not { } endpoint
            || endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null
            || context.User.Identity?.IsAuthenticated != true
            || context.User.FindFirstValue(ClaimTypes.NameIdentifier) is not { Length: > 0 } merchantId)
        {
            await next(context);
            return;
        }
        var limit = await limits.GetAsync(merchantId, context.RequestAborted);
        var decision = await buckets.AcquireAsync(merchantId, limit, context.RequestAborted);
        // draft-ietf-httpapi-ratelimit-headers: quota q per window w seconds; r left, t seconds until it refills.
        var window = Math.Max(1, (int)Math.Ceiling(limit.Burst / (double)limit.Rps));
        var policy = string.Create(CultureInfo.InvariantCulture, $"\"{PolicyName}\";q={limit.Burst};w={window}");
        // Rounded up: 0 says the bucket is full now, which it is not while a token is missing.
        var reset = decision.Allowed
            ? (int)Math.Ceiling(Math.Max(0, limit.Burst - decision.Remaining) / (double)limit.Rps)
            : decision.RetryAfterSeconds;
        var current = string.Create(CultureInfo.InvariantCulture, $"\"{PolicyName}\";r={decision.Remaining};t={reset}");
        // Written as the answer starts, not now: the exception handler clears the headers of a response it rewrites
        // (a slice's 404, 409, 412 or 422, the body limit's 413, a 500), and every answer must carry them.
        context.Response.OnStarting(static state =>
        {
            var (response, policy, current) = ((HttpResponse, string, string))state;
            response.Headers["RateLimit-Policy"] = policy;
            response.Headers["RateLimit"] = current;
            return Task.CompletedTask;
        }, (context.Response, policy, current));
        if (!decision.Allowed)
        {
            GatewayInstruments.RateLimitRefusals.Add(1, new KeyValuePair<string, object?>("limit", LimitName));
            await Problems.WriteAsync(context, 429, ErrorCodes.RateLimited,
                string.Create(CultureInfo.InvariantCulture, $"This merchant's limit of {limit.Rps} requests per second is reached; retry after {decision.RetryAfterSeconds} s with the same Idempotency-Key."),
                retryAfterSeconds: decision.RetryAfterSeconds);
            return;
        }
        await next(context);
    }
}
