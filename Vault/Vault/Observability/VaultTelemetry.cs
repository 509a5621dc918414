using System.Diagnostics;
using System.Diagnostics.Metrics;
using Payments.BuildingBlocks.Observability;
using Payments.Vault.Audit;
using Payments.Vault.Crypto;

namespace Payments.Vault.Observability;

/// <summary>
/// The Vault's spans (source <c>Payments.Vault</c>) and instruments (meter <c>Payments.Vault</c>). Labels are
/// operations and outcomes only: never a token, a merchant, an amount or anything of a card.
/// </summary>
internal static class VaultTelemetry
{
    public const string Name = "Payments.Vault";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    /// <summary>Card uses by <c>operation</c> (authorize, authcap, refund) and <c>outcome</c>.</summary>
    private static readonly Counter<long> CardUses =
        Meter.CreateCounter<long>("card.uses", "{use}", "Card uses (authorizations, refunds) by outcome.");

    private static readonly Histogram<double> CardUseDuration =
        Meter.CreateHistogram<double>("card.use.duration", "s", "Duration of card uses, audit commit included.");

    private static readonly Histogram<long> AuditGroupSize =
        Meter.CreateHistogram<long>("audit.group.size", "{entry}", "Audit entries written by one group commit.");

    private static readonly Histogram<double> AuditCommitDuration =
        Meter.CreateHistogram<double>("audit.commit.duration", "s", "Duration of one audit group commit (lock, insert, fsync).");

    private static readonly Counter<long> RateLimitRefusals =
        Meter.CreateCounter<long>("rate_limit.refusals", "{request}", "Card submissions and uses refused by a merchant's rate limit.");

    /// <summary>Wraps a card use: its span, its outcome count and its duration.</summary>
    public static async Task<Contracts.AcquirerOutcome> UseCardAsync(string action, Func<Task<Contracts.AcquirerOutcome>> use)
    {
        var operation = action switch
        {
            "card.authcap" => "authcap",
            "card.refund" => "refund",
            _ => "authorize",
        };
        using var span = Source.StartActivity("card " + operation);
        var started = Stopwatch.GetTimestamp();
        var outcome = "error";
        try
        {
            var result = await use();
            outcome = !result.CardFound ? "not_found" : result.Approved ? "approved" : "declined";
            return result;
        }
        catch (Exception e)
        {
            span.Fail(e);
            throw;
        }
        finally
        {
            span?.SetTag("payments.card.outcome", outcome);
            var op = new KeyValuePair<string, object?>("operation", operation);
            CardUses.Add(1, op, new KeyValuePair<string, object?>("outcome", outcome));
            CardUseDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, op);
        }
    }

    /// <summary>Telemetry for the Vault process (service name <c>payments-vault</c>) and its gauges.</summary>
    public static WebApplicationBuilder AddVaultTelemetry(this WebApplicationBuilder builder)
    {
        builder.AddGatewayTelemetry("payments-vault");
        builder.Services.AddSingleton<ITelemetrySampler, Gauges>();
        return builder;
    }

    public static Activity? StartAcquirer(string operation) => Source.StartActivity("acquirer " + operation, ActivityKind.Client);

    /// <summary>A group commit is its own trace, linked to every card use it carries.</summary>
    public static Activity? StartGroupCommit(IEnumerable<ActivityContext> callers) =>
        Source.HasListeners()
            ? Source.StartActivity(ActivityKind.Internal, parentContext: default,
                links: [.. callers.Where(c => c != default).Select(c => new ActivityLink(c))], name: "audit group commit")
            : null;

    public static void GroupCommitted(int entries, TimeSpan took)
    {
        AuditGroupSize.Record(entries);
        AuditCommitDuration.Record(took.TotalSeconds);
    }

    public static void RateLimited(string limit) =>
        RateLimitRefusals.Add(1, new KeyValuePair<string, object?>("limit", limit));

    /// <summary>
    /// The current data key's age and the audit chain's state, as the scheduled verification
    /// (<see cref="AuditVerificationService"/>) last found it.
    /// </summary>
    internal sealed class Gauges : ITelemetrySampler
    {
        private readonly CardKeyRing ring;
        private readonly Kek kek;
        private readonly TimeProvider clock;
        private double keyAge;

        public Gauges(CardKeyRing ring, Kek kek, TimeProvider clock, AuditVerificationService verification)
        {
            this.ring = ring;
            this.kek = kek;
            this.clock = clock;
            Meter.CreateObservableGauge("keyring.current_key.age", () => Volatile.Read(ref keyAge), "s",
                "Age of the data key new cards are encrypted under (since its activation).");
            Meter.CreateObservableGauge("audit.verification.valid", () => verification.Last is { Valid: false } ? 0.0 : 1.0, "1",
                "1 when the audit chain verified (keyed MACs, no gap, the latest anchor) at the last check, 0 when it broke.");
            Meter.CreateObservableGauge("audit.verification.last_run",
                () => (verification.LastRunAt?.ToUnixTimeMilliseconds() ?? 0) / 1000.0, "s",
                "When the audit chain was last verified (Unix time).");
        }

        public Task SampleAsync(CancellationToken ct)
        {
            if (kek.Version == 0)
            {
                return Task.CompletedTask; // the key ring is read only once start-up has checked the KEK
            }
            Volatile.Write(ref keyAge, Math.Max(0, (clock.GetUtcNow() - ring.Current.ActivationDate).TotalSeconds));
            return Task.CompletedTask;
        }
    }
}
