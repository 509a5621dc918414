using Npgsql;
using Payments.BuildingBlocks.Observability;

namespace Payments.Webhooks.Delivery;

/// <summary>The delivery backlog (pending deliveries, over the partial index) and the age of the oldest one.</summary>
internal sealed class WebhookGauges : ITelemetrySampler
{
    private readonly NpgsqlDataSource db;
    private double backlog;
    private double oldestAge;

    public WebhookGauges(NpgsqlDataSource db)
    {
        this.db = db;
        GatewayInstruments.Gauge("webhook.backlog", "{delivery}", "Webhook deliveries waiting to be sent or retried.", () => Volatile.Read(ref backlog));
        GatewayInstruments.Gauge("webhook.oldest_pending_age", "s", "Age of the oldest webhook delivery still pending.", () => Volatile.Read(ref oldestAge));
    }

    public async Task SampleAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
              FROM webhooks.deliveries WHERE state = 'PENDING'
            """);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        Volatile.Write(ref backlog, r.GetInt64(0));
        Volatile.Write(ref oldestAge, r.GetDouble(1));
    }
}
