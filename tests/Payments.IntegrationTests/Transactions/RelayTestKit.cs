using System.Globalization;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// What the relay's tests do to a module and read back: Webhooks' recording of one merchant's events made to fail or
/// to sleep in the database (a trigger on <c>webhooks.events</c>, until removed), and the merchant's latest outbox row.
/// </summary>
internal static class RelayTestKit
{
    /// <summary>Webhooks refuses the merchant's events (of one type, or whose body names a value, if given).</summary>
    public static Task RefuseWebhookEventsAsync(GatewayFixture gateway, string trigger, string merchantId, string? type = null,
        string? bodyContains = null) =>
        AddTriggerAsync(gateway, trigger,
            $"NEW.merchant_id = '{merchantId}'" + (type is null ? "" : $" AND NEW.type = '{type}'")
            + (bodyContains is null ? "" : $" AND strpos(NEW.body, '{bodyContains}') > 0"),
            "RAISE EXCEPTION 'refused by the test'");

    /// <summary>Webhooks' recording of the merchant's events sleeps this long in the database, inside its transaction.</summary>
    public static Task SlowWebhookEventsAsync(GatewayFixture gateway, string trigger, string merchantId, double seconds) =>
        AddTriggerAsync(gateway, trigger, $"NEW.merchant_id = '{merchantId}'",
            $"PERFORM pg_sleep({seconds.ToString(CultureInfo.InvariantCulture)})");

    public static Task RemoveTriggerAsync(GatewayFixture gateway, string trigger) =>
        ExecAsync(gateway, $"DROP TRIGGER IF EXISTS {trigger} ON webhooks.events");

    /// <summary>Waits (10 s at most) until Webhooks is inside a slowed recording.</summary>
    public static async Task WebhooksSleepingAsync(GatewayFixture gateway) =>
        Assert.True(await EventuallyAsync(async () => await ScalarAsync(gateway, """
            SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event = 'PgSleep' AND query LIKE '%webhooks.events%'
            """) == 1, TimeSpan.FromSeconds(10)), "Webhooks never started recording the event");

    /// <summary>The merchant's latest outbox row and its event id.</summary>
    public static async Task<(long Row, string EventId)> LastEventAsync(GatewayFixture gateway, string merchantId)
    {
        await using var conn = new Npgsql.NpgsqlConnection(gateway.HostConnectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT id, event_id FROM transactions.outbox WHERE merchant_id = $1 ORDER BY id DESC LIMIT 1", conn);
        cmd.Parameters.Add(new() { Value = merchantId });
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        return (r.GetInt64(0), r.GetString(1));
    }

    /// <summary>The payment intent's status once Intents made it SUCCEEDED, or the last one seen when it never did.</summary>
    public static async Task<string?> IntentStatusAsync(MerchantClient merchant, string id)
    {
        string? status = null;
        await EventuallyAsync(async () =>
        {
            status = (await GetAsync(merchant.Http, $"/v1/payment-intents/{id}")).Body?["status"]?.GetValue<string>();
            return status == "SUCCEEDED";
        });
        return status;
    }

    private static Task AddTriggerAsync(GatewayFixture gateway, string trigger, string condition, string action) => ExecAsync(gateway, $"""
        CREATE FUNCTION webhooks.{trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {condition} THEN {action}; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {trigger} BEFORE INSERT ON webhooks.events FOR EACH ROW EXECUTE FUNCTION webhooks.{trigger}();
        """);
}
