using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Payments.BuildingBlocks.Ids;
using Payments.TestKit;

namespace Payments.IntegrationTests.Webhooks;

public sealed class WebhookDeliveryTests(WebhooksFixture gateway) : IClassFixture<WebhooksFixture>, IAsyncLifetime
{
    private WebhookReceiver receiver = null!;

    public async Task InitializeAsync()
    {
        receiver = await WebhookReceiver.StartAsync();
        receiver.Diagnostics = () => gateway.DescribeAsync();
    }

    public async Task DisposeAsync() => await receiver.DisposeAsync();

    private NpgsqlDataSource Db => gateway.HostServices.GetRequiredService<NpgsqlDataSource>();

    [Fact]
    public async Task Creating_an_endpoint_shows_its_secret_to_its_key_alone_and_never_stores_it_in_clear()
    {
        var m = await gateway.CreateMerchantClientAsync();
        using var first = new HttpRequestMessage(HttpMethod.Post, "/v1/webhook-endpoints")
        {
            Content = JsonContent.Create(new { url = receiver.Url("/once"), enabled_events = new[] { "*" } }),
        };
        first.Headers.Add("Idempotency-Key", "create-once");
        using var created = await m.Http.SendAsync(first);
        var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var secret = body.GetProperty("secret").GetString()!;
        var id = body.GetProperty("id").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal("ENABLED", body.GetProperty("status").GetString());
        Assert.Equal(["*"], body.GetProperty("enabled_events").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(receiver.Url("/once"), body.GetProperty("url").GetString());

        using var again = new HttpRequestMessage(HttpMethod.Post, "/v1/webhook-endpoints")
        {
            Content = JsonContent.Create(new { url = receiver.Url("/once"), enabled_events = new[] { "*" } }),
        };
        again.Headers.Add("Idempotency-Key", "create-once");
        using var replayed = await m.Http.SendAsync(again);
        // The replay is the first answer, secret included (the contract), opened from its sealed copy.
        Assert.Equal(HttpStatusCode.Created, replayed.StatusCode);
        Assert.Equal("true", replayed.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(body.GetRawText(), await replayed.Content.ReadAsStringAsync());

        var list = await m.GetJsonAsync("/v1/webhook-endpoints");
        var listed = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal(id, listed.GetProperty("id").GetString());
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("secret").ValueKind);

        // Neither the endpoint row nor the stored idempotent answer holds the secret in clear.
        await using var cmd = Db.CreateCommand("""
            SELECT (SELECT count(*) FROM webhooks.endpoints WHERE position(convert_to($1, 'UTF8') in secret_sealed) > 0)
                 + (SELECT count(*) FROM idempotency.requests WHERE position(convert_to($1, 'UTF8') in response_body) > 0
                       OR position($1 in response_headers::text) > 0)
            """);
        cmd.Parameters.Add(new() { Value = secret });
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Invalid_endpoints_are_refused_and_unknown_ones_are_not_found()
    {
        var m = await gateway.CreateMerchantClientAsync();
        foreach (var (url, events) in new (string?, string[]?)[]
                 {
                     (null, ["*"]),
                     ("ftp://example.com/hook", ["*"]),
                     ("http://10.0.0.7/hook", ["*"]),
                     ("http://169.254.169.254/latest/meta-data", ["*"]),
                     ("https://user:pw@example.com/hook", ["*"]),
                     (receiver.Url("/x"), ["transaction.exploded"]),
                     (receiver.Url("/x"), []),
                 })
        {
            using var response = await m.Http.PostAsJsonAsync("/v1/webhook-endpoints", new { url, enabled_events = events });
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url} {string.Join(",", events ?? [])}: {(int)response.StatusCode}");
        }
        // A card number in the URL (its query here) is refused like one in any other merchant field, never echoed.
        using (var card = await m.Http.PostAsJsonAsync("/v1/webhook-endpoints",
                   new { url = receiver.Url("/cb?card=5555-5555-5555-4444"), enabled_events = new[] { "*" } }))
        {
            var text = await card.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, card.StatusCode);
            Assert.Contains("\"card_data_in_field\"", text, StringComparison.Ordinal);
            Assert.DoesNotContain("5555", text, StringComparison.Ordinal);
        }
        Assert.Equal(0, (await m.GetJsonAsync("/v1/webhook-endpoints")).GetProperty("data").GetArrayLength());

        var created = await m.CreateEndpointAsync(receiver.Url("/gone"));
        var id = created.GetProperty("id").GetString()!;
        var other = await gateway.CreateMerchantClientAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await other.Http.DeleteAsync($"/v1/webhook-endpoints/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await m.Http.DeleteAsync($"/v1/webhook-endpoints/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await m.Http.DeleteAsync($"/v1/webhook-endpoints/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await m.Http.DeleteAsync("/v1/webhook-endpoints/nope")).StatusCode);
        Assert.Equal(0, (await m.GetJsonAsync("/v1/webhook-endpoints")).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Events_arrive_signed_with_the_documented_scheme()
    {
        var m = await gateway.CreateMerchantClientAsync();
        var secret = (await m.CreateEndpointAsync(receiver.Url("/signed"))).GetProperty("secret").GetString()!;
        var trx = (await m.AuthorizeAsync(1234)).GetProperty("trx_id").GetString();

        var got = (await receiver.WaitForAsync(r => r.Any(d => d.Path == "/signed"))).Single(d => d.Path == "/signed");

        Assert.True(WebhookApi.Verify(secret, got.Signature!, got.Body, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookApi.Verify(secret + "x", got.Signature!, got.Body, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookApi.Verify(secret, got.Signature!, got.Body.Replace("1234", "1235", StringComparison.Ordinal), TimeSpan.FromMinutes(5)));
        Assert.Matches("^t=[0-9]+,v1=[0-9a-f]{64}$", got.Signature!);
        var evt = got.Json;
        Assert.Equal(["id", "type", "sequence", "created_at", "data"], evt.EnumerateObject().Select(p => p.Name));
        Assert.True(PrefixedId.IsValid("evt", evt.GetProperty("id").GetString()));
        Assert.Equal("transaction.authorized", evt.GetProperty("type").GetString());
        Assert.Equal(1, evt.GetProperty("sequence").GetInt64());
        Assert.Equal(trx, evt.GetProperty("data").GetProperty("trx_id").GetString());
        Assert.Equal("AUTHORIZED", evt.GetProperty("data").GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_receiver_failing_its_first_attempts_gets_every_event_in_order_after_backoff()
    {
        var m = await gateway.CreateMerchantClientAsync();
        receiver.Respond = (path, before, _) => Task.FromResult(before < 3 ? 500 : 200);
        await m.CreateEndpointAsync(receiver.Url("/flaky"));
        for (var i = 0; i < 3; i++)
        {
            await m.AuthorizeAsync(100 + i);
        }

        var all = await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/flaky").Count >= 3);

        var flaky = all.Where(d => d.Path == "/flaky").ToList();
        // The first event was tried until it went through; nothing after it was sent meanwhile.
        Assert.All(flaky.Take(4), d => Assert.Equal(1, d.Sequence));
        Assert.Equal([false, false, false, true], flaky.Take(4).Select(d => d.Ok));
        Assert.Equal([1L, 2, 3], WebhookReceiver.Accepted(all, "/flaky").Select(d => d.Sequence).Take(3));
        // Exponential backoff: at least 100 ms, then 200 ms, then 400 ms (the configured cap) between attempts.
        Assert.True(flaky[1].At - flaky[0].At >= TimeSpan.FromMilliseconds(90), $"{flaky[1].At - flaky[0].At}");
        Assert.True(flaky[2].At - flaky[1].At >= TimeSpan.FromMilliseconds(190), $"{flaky[2].At - flaky[1].At}");
        Assert.True(flaky[3].At - flaky[2].At >= TimeSpan.FromMilliseconds(390), $"{flaky[3].At - flaky[2].At}");
    }

    [Fact]
    public async Task Deliveries_follow_the_sequence_under_concurrent_changes()
    {
        var m = await gateway.CreateMerchantClientAsync();
        await m.CreateEndpointAsync(receiver.Url("/busy"));
        var payments = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => m.AuthorizeAsync(500 + i)));
        await Task.WhenAll(payments.Select(p => m.PostOkAsync($"/v1/transactions/{p.GetProperty("trx_id").GetString()}",
            new { operation = "capture" })));

        var all = await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/busy").Count >= 16, what: "16 events");

        var accepted = WebhookReceiver.Accepted(all, "/busy");
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (long)i), accepted.Select(d => d.Sequence));
        foreach (var p in payments)
        {
            var trx = p.GetProperty("trx_id").GetString();
            var mine = accepted.Where(d => d.Json.GetProperty("data").GetProperty("trx_id").GetString() == trx).ToList();
            Assert.Equal(["transaction.authorized", "transaction.captured"], mine.Select(d => d.Type));
        }
        var listed = await m.GetJsonAsync("/v1/events?after_sequence=0");
        Assert.Equal(accepted.Select(d => d.EventId), listed.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        Assert.Equal(accepted.Select(d => d.Body), listed.GetProperty("data").EnumerateArray().Select(e => e.GetRawText()));
    }

    [Fact]
    public async Task A_merchant_never_receives_another_merchants_events()
    {
        var a = await gateway.CreateMerchantClientAsync();
        var b = await gateway.CreateMerchantClientAsync();
        await a.CreateEndpointAsync(receiver.Url("/a"));
        await b.CreateEndpointAsync(receiver.Url("/b"));

        var made = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? a : b).AuthorizeAsync(700 + i)));
        var aTrx = made.Where((_, i) => i % 2 == 0).Select(t => t.GetProperty("trx_id").GetString()).ToHashSet();
        var bTrx = made.Where((_, i) => i % 2 == 1).Select(t => t.GetProperty("trx_id").GetString()).ToHashSet();

        var all = await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/a").Count >= 3 && WebhookReceiver.Accepted(r, "/b").Count >= 3);

        Assert.Equal(aTrx, WebhookReceiver.Accepted(all, "/a").Select(d => d.Json.GetProperty("data").GetProperty("trx_id").GetString()).ToHashSet());
        Assert.Equal(bTrx, WebhookReceiver.Accepted(all, "/b").Select(d => d.Json.GetProperty("data").GetProperty("trx_id").GetString()).ToHashSet());
        Assert.Equal([1L, 2, 3], WebhookReceiver.Accepted(all, "/a").Select(d => d.Sequence));
        Assert.Equal([1L, 2, 3], WebhookReceiver.Accepted(all, "/b").Select(d => d.Sequence));

        var aEvent = WebhookReceiver.Accepted(all, "/a")[0].EventId;
        var bEvents = (await b.GetJsonAsync("/v1/events")).GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()).ToList();
        Assert.DoesNotContain(aEvent, bEvents);
        using var stolen = await b.Http.PostAsync($"/v1/events/{aEvent}/redeliver", null);
        Assert.Equal(HttpStatusCode.NotFound, stolen.StatusCode);
    }

    [Fact]
    public async Task Expiry_settlement_and_chargebacks_reach_the_endpoint()
    {
        var m = await gateway.CreateMerchantClientAsync();
        var secret = (await m.CreateEndpointAsync(receiver.Url("/lifecycle"),
            "transaction.expired", "transaction.settled", "chargeback.created")).GetProperty("secret").GetString()!;
        var held = (await m.AuthorizeAsync(900)).GetProperty("trx_id").GetString();
        var paid = (await m.AuthorizeAsync(800, capture: true)).GetProperty("trx_id").GetString();

        Assert.Equal(1, (await m.PostOkAsync("/v1/sandbox/expire-authorizations", new { as_of = DateTimeOffset.UtcNow.AddDays(8) }))
            .GetProperty("expired").GetInt32());
        Assert.True((await m.PostOkAsync("/v1/sandbox/settle", new { })).GetProperty("settled").GetInt32() >= 1);
        await m.PostOkAsync("/v1/sandbox/chargebacks", new { trx_id = paid, amount = 300, reason_code = "4837" }, HttpStatusCode.Created);

        var all = await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/lifecycle").Count >= 3, what: "expired, settled, chargeback");

        var got = WebhookReceiver.Accepted(all, "/lifecycle");
        Assert.Equal(["transaction.expired", "transaction.settled", "chargeback.created"], got.Select(d => d.Type));
        Assert.Equal(held, got[0].Json.GetProperty("data").GetProperty("trx_id").GetString());
        Assert.Equal("EXPIRED", got[0].Json.GetProperty("data").GetProperty("status").GetString());
        Assert.Equal(paid, got[1].Json.GetProperty("data").GetProperty("trx_id").GetString());
        Assert.Equal("SETTLED", got[1].Json.GetProperty("data").GetProperty("status").GetString());
        Assert.Equal("CHARGEBACK", got[2].Json.GetProperty("data").GetProperty("type").GetString());
        Assert.Equal(paid, got[2].Json.GetProperty("data").GetProperty("parent_trx_id").GetString());
        Assert.True(got[0].Sequence < got[1].Sequence && got[1].Sequence < got[2].Sequence);
        Assert.All(got, d => Assert.True(WebhookApi.Verify(secret, d.Signature!, d.Body, TimeSpan.FromMinutes(5))));
    }

    [Fact]
    public async Task Events_after_a_sequence_can_be_backfilled()
    {
        var m = await gateway.CreateMerchantClientAsync();
        for (var i = 0; i < 3; i++)
        {
            await m.AuthorizeAsync(300 + i);
        }
        var events = await WebhookApi.EventuallyAsync(() => m.GetJsonAsync("/v1/events"),
            e => e.GetProperty("data").GetArrayLength() == 3, what: "3 recorded events");
        Assert.False(events.GetProperty("has_more").GetBoolean());

        var after1 = await m.GetJsonAsync("/v1/events?after_sequence=1");
        Assert.Equal([2L, 3], after1.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("sequence").GetInt64()));
        var page = await m.GetJsonAsync("/v1/events?after_sequence=1&limit=1");
        Assert.Equal(2, Assert.Single(page.GetProperty("data").EnumerateArray()).GetProperty("sequence").GetInt64());
        Assert.True(page.GetProperty("has_more").GetBoolean());
        Assert.Equal(0, (await m.GetJsonAsync("/v1/events?after_sequence=3")).GetProperty("data").GetArrayLength());
        foreach (var bad in new[] { "after_sequence=-1", "after_sequence=abc", "limit=0", "limit=101" })
        {
            using var response = await m.Http.GetAsync($"/v1/events?{bad}");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }
    }

    [Fact]
    public async Task Redeliver_sends_an_event_again()
    {
        var m = await gateway.CreateMerchantClientAsync();
        await m.CreateEndpointAsync(receiver.Url("/again"), "transaction.authorized");
        await m.AuthorizeAsync(42);
        var first = (await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/again").Count == 1)).Single(d => d.Path == "/again");

        var answer = await m.PostOkAsync($"/v1/events/{first.EventId}/redeliver", new { }, HttpStatusCode.Accepted);
        Assert.Equal(first.EventId, answer.GetProperty("event_id").GetString());
        Assert.Equal(1, answer.GetProperty("deliveries").GetInt32());

        var all = await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/again").Count == 2);
        var second = WebhookReceiver.Accepted(all, "/again")[1];
        Assert.Equal(first.Body, second.Body);
        using var unknown = await m.Http.PostAsync($"/v1/events/{PrefixedId.New("evt")}/redeliver", null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task An_endpoint_failing_for_the_whole_retry_window_is_disabled_with_a_reason()
    {
        var m = await gateway.CreateMerchantClientAsync();
        receiver.Respond = (_, _, _) => Task.FromResult(503);
        var id = (await m.CreateEndpointAsync(receiver.Url("/down"))).GetProperty("id").GetString();
        await m.AuthorizeAsync(77);

        var endpoint = await WebhookApi.EventuallyAsync(
            async () => (await m.GetJsonAsync("/v1/webhook-endpoints")).GetProperty("data").EnumerateArray().Single(),
            e => e.GetProperty("status").GetString() == "DISABLED", TimeSpan.FromSeconds(60), "the endpoint to be disabled");

        Assert.Equal(id, endpoint.GetProperty("id").GetString());
        Assert.Contains("HTTP 503", endpoint.GetProperty("disabled_reason").GetString(), StringComparison.Ordinal);
        var attempts = receiver.At("/down").Count;
        Assert.True(attempts >= 3, $"{attempts} attempts");
        Assert.All(receiver.At("/down"), d => Assert.Equal(1, d.Sequence));
    }
}
