using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Payments.BuildingBlocks.Observability;

/// <summary>
/// The Host's span sources (one per area) and business instruments (meter <c>Payments.Gateway</c>). Prometheus names
/// are the meter's and the instrument's joined (<c>payments_gateway_authorizations_total</c>). Every label value is from a
/// closed set: an operation, an outcome, a decline code of the acquirer; never an id, an amount or a URL.
/// </summary>
public static class GatewayInstruments
{
    public const string MeterName = "Payments.Gateway";

    public static readonly ActivitySource Idempotency = new("Payments.Idempotency");
    public static readonly ActivitySource VaultCalls = new("Payments.VaultClient");
    public static readonly ActivitySource Outbox = new("Payments.Outbox");
    public static readonly ActivitySource Webhooks = new("Payments.Webhooks");
    public static readonly ActivitySource Transactions = new("Payments.Transactions");

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Authorizations recorded (authorize and authcap), by <c>outcome</c> (approved, declined) and <c>decline_code</c>.</summary>
    public static readonly Counter<long> Authorizations =
        Meter.CreateCounter<long>("authorizations", "{authorization}", "Authorizations recorded, by outcome and decline code.");

    /// <summary>Captures, voids, refunds, chargebacks, expiries and settlements recorded, by <c>operation</c>.</summary>
    public static readonly Counter<long> Operations =
        Meter.CreateCounter<long>("operations", "{operation}", "Money operations recorded after authorization, by operation.");

    public static readonly Counter<long> IdempotencyReplays =
        Meter.CreateCounter<long>("idempotency.replays", "{request}", "Requests answered with a stored answer of their Idempotency-Key.");

    /// <summary>By <c>reason</c>: <c>mismatch</c> (422, another request's key) or <c>in_progress</c> (409).</summary>
    public static readonly Counter<long> IdempotencyConflicts =
        Meter.CreateCounter<long>("idempotency.conflicts", "{request}", "Requests refused because their Idempotency-Key is taken.");

    /// <summary>Calls to the Vault by <c>operation</c> and <c>outcome</c> (ok, refused, unavailable).</summary>
    public static readonly Histogram<double> VaultCallDuration =
        Meter.CreateHistogram<double>("vault.call.duration", "s", "Duration of the Host's calls to the Vault.");

    public static readonly Counter<long> OutboxEventsRelayed =
        Meter.CreateCounter<long>("outbox.relayed", "{event}", "Transaction events delivered by the outbox relay.");

    /// <summary>Changes each commit of a group-commit writer carried (1: written alone), by <c>writer</c>: payments, captures.</summary>
    public static readonly Histogram<long> GroupCommitSize =
        Meter.CreateHistogram<long>("group_commit.size", "{change}", "Changes written per commit by a group-commit writer.");

    /// <summary>Delivery attempts by <c>result</c>: delivered, http_error, timeout, connection_failed, refused.</summary>
    public static readonly Counter<long> WebhookDeliveries =
        Meter.CreateCounter<long>("webhook.deliveries", "{attempt}", "Webhook delivery attempts, by result.");

    public static readonly Histogram<double> WebhookDeliveryDuration =
        Meter.CreateHistogram<double>("webhook.delivery.duration", "s", "Duration of webhook delivery attempts.");

    /// <summary>Failed token requests by <c>reason</c> (the token route's error code).</summary>
    public static readonly Counter<long> TokenFailures =
        Meter.CreateCounter<long>("token.failures", "{request}", "Token requests refused for bad credentials or input.");

    /// <summary>Requests refused by a rate limit, by <c>limit</c>.</summary>
    public static readonly Counter<long> RateLimitRefusals =
        Meter.CreateCounter<long>("rate_limit.refusals", "{request}", "Requests refused by a rate limit.");

    /// <summary>An observable gauge of the Host's meter (read from a value a sampler keeps).</summary>
    public static ObservableGauge<double> Gauge(string name, string unit, string description, Func<double> read) =>
        Meter.CreateObservableGauge(name, read, unit, description);
}
