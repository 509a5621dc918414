using Npgsql;
using Payments.BuildingBlocks.Observability;
using Payments.Transactions.Contracts;

namespace Payments.Transactions.Data;

/// <summary>
/// Business counters from the events the relay delivered: counted once committed (a rolled-back change never
/// counts), at least once like the relay itself (a redelivery after a crash counts again, which is rare).
/// </summary>
internal static class OutboxMetrics
{
    private static readonly KeyValuePair<string, object?> Approved = new("outcome", "approved");
    private static readonly KeyValuePair<string, object?> NoDecline = new("decline_code", "none");

    public static void Count(TransactionEvent evt)
    {
        GatewayInstruments.OutboxEventsRelayed.Add(1, new KeyValuePair<string, object?>("type", evt.Type));
        switch (evt.Type)
        {
            case TransactionEventTypes.Authorized:
                GatewayInstruments.Authorizations.Add(1, Approved, NoDecline);
                break;
            case TransactionEventTypes.Declined:
                GatewayInstruments.Authorizations.Add(1, new KeyValuePair<string, object?>("outcome", "declined"),
                    new KeyValuePair<string, object?>("decline_code", Bounded(evt.Transaction.DeclineCode)));
                break;
            case TransactionEventTypes.Captured:
                Operation("capture");
                break;
            case TransactionEventTypes.Voided:
                Operation("void");
                break;
            case TransactionEventTypes.RefundCreated:
                Operation("refund");
                break;
            case TransactionEventTypes.ChargebackCreated:
                Operation("chargeback");
                break;
            case TransactionEventTypes.Expired:
                Operation("expire");
                break;
            case TransactionEventTypes.Settled:
                Operation("settle");
                break;
        }
    }

    private static void Operation(string name) =>
        GatewayInstruments.Operations.Add(1, new KeyValuePair<string, object?>("operation", name));

    /// <summary>The acquirer's decline codes are a short list of snake_case words; anything else is one bucket.</summary>
    internal static string Bounded(string? code) =>
        code is { Length: > 0 and <= 40 } c && c.All(ch => ch is (>= 'a' and <= 'z') or '_') ? c : "other";
}

/// <summary>Outbox depth and the age of its oldest undelivered event, from one indexed query per sample.</summary>
internal sealed class OutboxGauges : ITelemetrySampler
{
    private readonly NpgsqlDataSource db;
    private double depth;
    private double oldestAge;
    private double holds;

    public OutboxGauges(NpgsqlDataSource db)
    {
        this.db = db;
        GatewayInstruments.Gauge("outbox.depth", "{event}", "Transaction events not yet delivered by the relay.", () => Volatile.Read(ref depth));
        GatewayInstruments.Gauge("outbox.oldest_age", "s", "Age of the oldest transaction event not yet delivered.", () => Volatile.Read(ref oldestAge));
        GatewayInstruments.Gauge("outbox.holds", "{hold}",
            "Holds of a module on a merchant after it failed one of the merchant's events, due or not (ADR 35).",
            () => Volatile.Read(ref holds));
    }

    public async Task SampleAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8,
                   (SELECT count(*) FROM transactions.outbox_holds)
              FROM transactions.outbox WHERE dispatched_at IS NULL
            """);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        var (count, age, held) = (r.GetInt64(0), r.GetDouble(1), r.GetInt64(2));
        Volatile.Write(ref depth, count);
        Volatile.Write(ref oldestAge, age);
        Volatile.Write(ref holds, held);
    }
}

/// <summary>
/// Refunds reserved and not yet booked, and the age of the oldest (docs/adr/0082): a reservation older than the
/// recovery's bound is one the Vault could not answer, held so the money cannot be refunded twice; alert on its age.
/// </summary>
internal sealed class RefundReservationGauges : ITelemetrySampler
{
    private readonly NpgsqlDataSource db;
    private double pending;
    private double oldestAge;

    public RefundReservationGauges(NpgsqlDataSource db)
    {
        this.db = db;
        GatewayInstruments.Gauge("refunds.reserved", "{refund}", "Refunds reserved and not yet booked (in flight or awaiting recovery).",
            () => Volatile.Read(ref pending));
        GatewayInstruments.Gauge("refunds.reserved_oldest_age", "s", "Age of the oldest refund reserved and not yet booked.",
            () => Volatile.Read(ref oldestAge));
    }

    public async Task SampleAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
              FROM transactions.refund_reservations WHERE state = 'pending'
            """);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        var (count, age) = (r.GetInt64(0), r.GetDouble(1));
        Volatile.Write(ref pending, count);
        Volatile.Write(ref oldestAge, age);
    }
}
