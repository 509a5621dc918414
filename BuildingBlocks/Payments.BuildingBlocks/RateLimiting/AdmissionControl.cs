using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Http;

namespace Payments.BuildingBlocks.RateLimiting;

/// <summary>Marks an endpoint that admission control lets through whatever the load (reads are never gated).</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
public sealed class AdmissionExemptAttribute : Attribute;

/// <summary>
/// The places for writes in this process (one per process, whatever the pipeline). The wait for a place adapts, in
/// the spirit of CoDel: a burst on a gateway that refused nothing lately waits up to
/// <see cref="AdmissionOptions.QueueTimeout"/>, so it is served rather than shed; within
/// <see cref="AdmissionOptions.OverloadWindow"/> of a refusal the queue is standing, not absorbing a burst: at most
/// <see cref="AdmissionOptions.OverloadQueueLimit"/> writes wait, each only <see cref="AdmissionOptions.OverloadQueueTimeout"/>,
/// so refusals stay immediate.
/// </summary>
public sealed class AdmissionGate(IOptions<AdmissionOptions> options) : IDisposable
{
    private readonly SemaphoreSlim places = new(Math.Max(1, options.Value.MaxConcurrent));
    private int waiting;
    private long lastRefusal = long.MinValue;

    public AdmissionOptions Options { get; } = options.Value;

    /// <summary>Writes running now.</summary>
    public int InFlight => Math.Max(1, Options.MaxConcurrent) - places.CurrentCount;

    /// <summary>Writes waiting for a place now.</summary>
    public int Waiting => Volatile.Read(ref waiting);

    /// <summary>True while a refusal is recent: waits are short.</summary>
    public bool Overloaded
    {
        get
        {
            var last = Interlocked.Read(ref lastRefusal);
            return last != long.MinValue && Stopwatch.GetElapsedTime(last) < Options.OverloadWindow;
        }
    }

    /// <summary>True when a place was taken (give it back with <see cref="Leave"/>); false when the write is refused.</summary>
    public async ValueTask<bool> TryEnterAsync(CancellationToken ct)
    {
        if (places.Wait(0, CancellationToken.None))
        {
            return true;
        }
        var overloaded = Overloaded;
        if (Interlocked.Increment(ref waiting) > (overloaded ? Math.Min(Options.QueueLimit, Options.OverloadQueueLimit) : Options.QueueLimit))
        {
            Interlocked.Decrement(ref waiting);
            return Refused();
        }
        try
        {
            return await places.WaitAsync(overloaded ? Options.OverloadQueueTimeout : Options.QueueTimeout, ct) || Refused();
        }
        finally
        {
            Interlocked.Decrement(ref waiting);
        }
    }

    public void Leave() => places.Release();

    public void Dispose() => places.Dispose();

    private bool Refused()
    {
        Interlocked.Exchange(ref lastRefusal, Stopwatch.GetTimestamp());
        return false;
    }
}

/// <summary>
/// A concurrency limit in front of the routes that write: at most <see cref="AdmissionOptions.MaxConcurrent"/> run at
/// once, <see cref="AdmissionOptions.QueueLimit"/> more wait a while (see <see cref="AdmissionGate"/>), and the
/// rest get 503 <c>overloaded</c> with <c>Retry-After</c> at once, before authentication, so a refusal touches neither
/// PostgreSQL, Redis nor the Vault. What is admitted keeps its normal latency instead of queueing behind the excess.
/// Reads, health and exempt routes pass. See docs/adr/0040-rate-limits-and-admission.md.
/// </summary>
public sealed class AdmissionControlMiddleware(RequestDelegate next, AdmissionGate gate, AdmissionRefusals refusals)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (gate.Options.MaxConcurrent <= 0 || !IsGated(context))
        {
            await next(context);
            return;
        }
        bool admitted;
        try
        {
            admitted = await gate.TryEnterAsync(context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            return; // the client went away while waiting
        }
        if (!admitted)
        {
            refusals.Count();
            await Problems.WriteAsync(context, 503, ErrorCodes.Overloaded, gate.Options.RefusalDetail,
                retryAfterSeconds: gate.Options.RetryAfterSeconds);
            return;
        }
        try
        {
            await next(context);
        }
        finally
        {
            gate.Leave();
        }
    }

    private static bool IsGated(HttpContext context) =>
        context.GetEndpoint() is { } endpoint
        && endpoint.Metadata.GetMetadata<AdmissionExemptAttribute>() is null
        && !HttpMethods.IsGet(context.Request.Method)
        && !HttpMethods.IsHead(context.Request.Method)
        && !HttpMethods.IsOptions(context.Request.Method);
}

/// <summary>
/// Counts admission control's 503 refusals into the process' <c>rate_limit.refusals</c> counter as
/// <c>limit="admission"</c> (the Host's meter by default; the Vault registers its own first).
/// </summary>
public sealed class AdmissionRefusals(Action count)
{
    public const string LimitName = "admission";

    public void Count() => count();
}
