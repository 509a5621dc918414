using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Payments.TestKit;

namespace Payments.IntegrationTests.Observability;

/// <summary>
/// The Host and the Vault on real loopback ports (so the Host's calls to the Vault go through a real HttpClient
/// handler, which writes <c>traceparent</c>), spans recorded and exported to memory.
/// </summary>
public sealed class TracingGatewayFixture : GatewayFixture
{
    public ExportedSpanCollection Exported { get; } = new();

    public SpanRecorder Recorder { get; } = new();

    protected override bool UseKestrel => true;

    protected override void ConfigureHost(Dictionary<string, string?> settings) => settings["Telemetry:RecordTraces"] = "true";

    protected override void ConfigureVault(Dictionary<string, string?> settings) => settings["Telemetry:RecordTraces"] = "true";

    // Activity listeners are process-wide: the Host's provider also sees the Vault's spans of this test process.
    protected override void ConfigureHostServices(IServiceCollection services) =>
        services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Exported).AddProcessor(Recorder));
}

public sealed class TracingTests(TracingGatewayFixture gateway) : IClassFixture<TracingGatewayFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task One_authorize_is_one_trace_across_the_host_and_the_vault()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var card = await gateway.TokenizeCardAsync(merchant);

        // The merchant's own trace (as a merchant's HttpClient sends it, sampled): the gateway starts its own instead.
        ActivityTraceId merchantTrace;
        var started = DateTime.UtcNow;
        using (var merchantSpan = new Activity("merchant checkout").Start())
        {
            merchantSpan.ActivityTraceFlags = ActivityTraceFlags.Recorded;
            merchantTrace = merchantSpan.TraceId;
            await AuthorizeAsync(merchant, card);
        }

        // Tests of this class run one at a time: the one authorization since then on this fixture's Host. The recorder
        // also sees the requests of other test classes' gateways in this process (its sampler records every server
        // root), so the Host is told by its port: another class's authorize was taken for this one on a CI run.
        var hostPort = gateway.Host.BaseAddress.Port;
        var hostServer = await gateway.Recorder.WaitForAsync(
            s => s.Kind == ActivityKind.Server && Path(s) == "/v1/transactions" && s.StartTimeUtc >= started
                 && Convert.ToInt32(s.GetTagItem("server.port") ?? -1, CultureInfo.InvariantCulture) == hostPort, Wait);
        Assert.NotEqual(merchantTrace, hostServer.TraceId);
        Assert.Equal(default, hostServer.ParentSpanId);
        var vaultServer = await gateway.Recorder.WaitForAsync(
            s => s.Kind == ActivityKind.Server && Path(s) == "/internal/v1/acquirer/authorize" && s.TraceId == hostServer.TraceId, Wait);
        await gateway.Recorder.WaitForAsync(s => s.DisplayName == "audit group commit" && s.Links.Any(l => l.Context.TraceId == hostServer.TraceId), Wait);
        var trace = gateway.Exported.Snapshot().Where(s => s.TraceId == hostServer.TraceId).ToList();

        // The Vault's request continues the Host's trace through the traceparent header: its parent is the Host's
        // HttpClient span, a remote parent (a header, not an in-process Activity).
        var hostClient = Assert.Single(trace, s => s.Kind == ActivityKind.Client && s.SpanId == vaultServer.ParentSpanId);
        Assert.True(vaultServer.HasRemoteParent);
        Assert.Equal(hostServer.TraceId, hostClient.TraceId);
        foreach (var name in new[] { "idempotency claim", "vault POST acquirer/authorize", "card authorize", "acquirer authorize" })
        {
            Assert.Contains(trace, s => s.DisplayName == name);
        }
        Assert.Contains(trace, s => s.Source.Name == "Npgsql");
        // The group commit is a trace of its own that links to the card uses it wrote.
        Assert.DoesNotContain(trace, s => s.DisplayName == "audit group commit");
    }

    [Fact]
    public async Task The_card_entry_urls_client_secret_is_in_no_span()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var (intentId, clientSecret) = await gateway.CreateTokenizationIntentAsync(merchant);
        using var anonymous = new HttpClient { BaseAddress = gateway.Vault.BaseAddress };

        // As a browser opens card_entry_url.
        using var page = await anonymous.GetAsync($"/v1/tokenization-intents/{intentId}/card-entry?client_secret={Uri.EscapeDataString(clientSecret)}");
        Assert.Equal(200, (int)page.StatusCode);

        var server = await gateway.Recorder.WaitForAsync(s => s.Kind == ActivityKind.Server && Path(s).EndsWith("/card-entry", StringComparison.Ordinal)
                                                               && Path(s).Contains(intentId, StringComparison.Ordinal), Wait);
        foreach (var span in gateway.Exported.Snapshot().Where(s => s.TraceId == server.TraceId))
        {
            var text = JsonSerializer.Serialize(span.TagObjects.Select(t => $"{t.Key}={t.Value}")) + span.DisplayName;
            Assert.DoesNotContain(clientSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Uri.EscapeDataString(clientSecret), text, StringComparison.Ordinal);
            Assert.Null(span.GetTagItem("url.query"));
        }
    }

    [Fact]
    public async Task The_hosts_feed_polls_start_no_trace_in_the_vault()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        // A stored card wakes the Host's feed, which polls the Vault from its background loop (no request's trace).
        await gateway.TokenizeCardAsync(merchant);

        // Nothing to wait for but time: a recorded poll showed within a second of the card before the fix. Only a poll
        // continuing a Host's trace counts: the recorder also sees the spans of other test classes' gateways in this
        // process, and a Vault whose Host sends no trace context (telemetry off there) records its polls as roots.
        await Assert.ThrowsAsync<TimeoutException>(() => gateway.Recorder.WaitForAsync(
            s => s.Kind == ActivityKind.Server && Path(s) == "/internal/v1/tokenization-intents-succeeded" && s.ParentSpanId != default,
            TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Webhook_deliveries_carry_no_trace_context_to_the_merchant()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var receiver = await Webhooks.WebhookReceiver.StartAsync();
        await Webhooks.WebhookApi.CreateEndpointAsync(merchant, receiver.Url("/traced"), "*");

        await AuthorizeAsync(merchant, await gateway.TokenizeCardAsync(merchant));

        var deliveries = await receiver.WaitForAsync(r => r.Any(d => d.Path == "/traced"));
        // A span was current while the delivery was sent: without the suppression its id would have gone along.
        await gateway.Recorder.WaitForAsync(s => s.DisplayName == "webhook deliver", Wait);
        Assert.All(deliveries, d => Assert.Null(d.TraceParent));
    }

    private static async Task AuthorizeAsync(MerchantClient merchant, string card)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/transactions")
        {
            Content = JsonContent.Create(new Dictionary<string, object>
            {
                ["operation"] = "authorize", ["amount"] = 1500, ["currency"] = "EUR", ["card_token"] = card, ["order_id"] = "trace-" + Guid.NewGuid().ToString("N")[..8],
            }),
        };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await merchant.Http.SendAsync(request);
        Assert.Equal(201, (int)response.StatusCode);
    }

    private static string Path(Activity span) => span.GetTagItem("url.path") as string ?? "";
}
