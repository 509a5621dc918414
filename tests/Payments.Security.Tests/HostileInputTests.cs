using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CsCheck;
using Payments.Security.Tests.Kit;
using Xunit.Abstractions;

namespace Payments.Security.Tests;

/// <summary>
/// Every operation of the OpenAPI document, fed CsCheck-generated hostile requests as an authenticated merchant:
/// never a 5xx, every 4xx an RFC 9457 problem, and a refused request leaves every table of the Host's database
/// as it was.
/// </summary>
[Collection(Suites.Hostile)]
public sealed class HostileInputTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Generated_hostile_requests_never_get_a_5xx_always_a_problem_and_change_nothing()
    {
        var suite = await SuiteData.GetAsync();
        using var http = suite.Gateway.HostClient(suite.A.AccessToken);
        var (operations, fieldNames) = await OpenApiOperations.ReadAsync(http);
        var targets = operations.Where(o => o.PathTemplate.StartsWith("/v1/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(targets);
        var iterations = Suites.Iterations(shortRun: 12, longRun: 400);
        var failures = new List<string>();
        var tally = new Dictionary<string, SortedDictionary<int, int>>();

        foreach (var op in targets)
        {
            var counts = tally[op.ToString()] = [];
            // Revoking the presented token would end the session the other samples use: revoke runs on throwaway tokens.
            var revoke = op.PathTemplate.EndsWith("/revoke", StringComparison.Ordinal);
            // Failed token requests count towards the per-IP limit the other suites need: fewer of them.
            var n = op.Anonymous ? Math.Min(iterations, 10) : revoke ? Math.Min(iterations, 4) : iterations;
            try
            {
                await HostileRequests.For(op, fieldNames).SampleAsync(async request =>
                {
                    var token = op.Anonymous ? null : revoke
                        ? await Merchants.IssueTokenAsync(suite.Gateway, suite.A.ClientId, suite.A.ClientSecret)
                        : suite.A.AccessToken;
                    using var client = suite.Gateway.HostClient(token);
                    var (status, failure) = await CheckAsync(suite.Gateway, client, request);
                    lock (counts)
                    {
                        counts[status] = counts.GetValueOrDefault(status) + 1;
                    }
                    if (failure is not null)
                    {
                        throw new InvalidOperationException(failure);
                    }
                }, iter: n, threads: 1, print: r => r.ToString());
            }
            catch (Exception e) when (e is CsCheckException or InvalidOperationException)
            {
                failures.Add($"{op}: {e.Message}\n  cause: {e.InnerException?.Message}");
            }
        }

        foreach (var (op, counts) in tally)
        {
            output.WriteLine($"{op,-60} {string.Join(' ', counts.Select(c => $"{c.Key}×{c.Value}"))}");
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public async Task A_body_over_64_KiB_is_refused_with_413_on_every_operation_that_takes_one()
    {
        var suite = await SuiteData.GetAsync();
        using var http = suite.Gateway.HostClient(suite.A.AccessToken);
        var (operations, _) = await OpenApiOperations.ReadAsync(http);
        var withBody = operations.Where(o => o.PathTemplate.StartsWith("/v1/", StringComparison.Ordinal) && o.Body is not null).ToList();
        Assert.NotEmpty(withBody);
        var failures = new List<string>();
        foreach (var op in withBody)
        {
            foreach (var chunked in new[] { false, true })
            {
                var path = OpenApiOperations.TemplateParameters(op.PathTemplate).Aggregate(op.PathTemplate,
                    (p, name) => p.Replace("{" + name + "}", suite.IdsOfA.GetValueOrDefault(SuiteData.KindOf(op.PathTemplate, name) ?? "", "x"), StringComparison.Ordinal));
                var request = new HostileRequest("oversized body", op.Method, path, "application/json",
                    HostileRequests.Oversized(HostileRequests.BodyLimit + 1), chunked, [], 413);
                using var client = suite.Gateway.HostClient(op.Anonymous ? null : suite.A.AccessToken);
                var (_, failure) = await CheckAsync(suite.Gateway, client, request);
                if (failure is not null)
                {
                    failures.Add($"{op}{(chunked ? " (chunked)" : "")}: {failure}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task A_chunked_body_over_64_KiB_is_413_even_when_its_first_chunk_is_already_invalid()
    {
        var suite = await SuiteData.GetAsync();
        using var http = suite.Gateway.HostClient(suite.A.AccessToken);
        // The first chunk names a field no route has; the rest arrives later and takes the body past the limit.
        var body = HostileRequests.Oversized(HostileRequests.BodyLimit + 1);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/transactions") { Content = new SlowChunks(body, 64, TimeSpan.FromMilliseconds(300)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TransferEncodingChunked = true;

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("payload_too_large", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
    }

    /// <summary>A body sent as its first <c>head</c> bytes, then, after a pause, the rest.</summary>
    private sealed class SlowChunks(byte[] body, int head, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, head));
            await stream.FlushAsync();
            await Task.Delay(pause);
            await stream.WriteAsync(body.AsMemory(head));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    // Tables the gateway's background workers write on their own (event recording from earlier requests, the
    // Vault feed sync, outbox relays, delivery leases): a change there is not the refused request's doing.
    private static readonly string[] BackgroundTables =
        ["tokenization.intent_events:", "tokenization.vault_feed_cursor:", "webhooks.events:", "webhooks.feed_cursors:",
         "webhooks.merchant_sequences:", "webhooks.deliveries:"];

    private static readonly string[] BackgroundUpdatedTables = [".outbox:", "tokenization.intents:", "webhooks.endpoints:"];

    internal static bool IsBackgroundWork(string diff) =>
        BackgroundTables.Any(t => diff.StartsWith(t, StringComparison.Ordinal)) ||
        (diff.EndsWith("(contents changed)", StringComparison.Ordinal) &&
         BackgroundUpdatedTables.Any(t => diff.Contains(t, StringComparison.Ordinal)));

    /// <summary>Sends one request and judges the answer; the failure text names what broke, or is null.</summary>
    internal static async Task<(int Status, string? Failure)> CheckAsync(SecurityGateway gateway, HttpClient http, HostileRequest r)
    {
        var before = await DatabaseSnapshot.TakeAsync(gateway.HostConnectionString);
        using var request = new HttpRequestMessage(new HttpMethod(r.Method), r.Path);
        if (r.Body is not null)
        {
            request.Content = r.Chunked ? new StreamContent(new MemoryStream(r.Body)) : new ByteArrayContent(r.Body);
            if (r.ContentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", r.ContentType);
            }
            if (r.Chunked)
            {
                request.Headers.TransferEncodingChunked = true;
            }
        }
        foreach (var (name, value) in r.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request);
        }
        catch (TaskCanceledException)
        {
            return (0, $"no answer within {http.Timeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e) when (r.ExpectedStatus == 413)
        {
            return (0, $"the connection failed instead of a 413: {e.Message}");
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            var body = await response.Content.ReadAsStringAsync();
            var media = response.Content.Headers.ContentType?.MediaType;
            if (status >= 500)
            {
                return (status, $"{status} for {r}\n  answer: {Trim(body)}");
            }
            if (r.ExpectedStatus is { } expected && status != expected)
            {
                return (status, $"expected {expected}, got {status} for {r}\n  answer: {Trim(body)}");
            }
            if (status >= 400)
            {
                var problem = ProblemFailure(status, media, body);
                if (problem is not null)
                {
                    return (status, $"{problem} for {r}\n  answer: {Trim(body)}");
                }
                var after = await DatabaseSnapshot.TakeAsync(gateway.HostConnectionString);
                var diff = before.Diff(after).Where(d => !IsBackgroundWork(d)).ToList();
                if (diff.Count > 0)
                {
                    return (status, $"a refused request ({status}) changed the database: {string.Join("; ", diff)} for {r}");
                }
            }
            else
            {
                // An accepted request may set background work going; let it settle before the next baseline.
                await QuiesceAsync(gateway.HostConnectionString);
            }
            return (status, null);
        }
    }

    internal static string? ProblemFailure(int status, string? media, string body)
    {
        if (media != "application/problem+json")
        {
            return $"a {status} with content type '{media ?? "(none)"}' instead of application/problem+json";
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (!root.TryGetProperty("status", out var s) || s.GetInt32() != status)
            {
                return $"a {status} problem whose status field is not {status}";
            }
            if (!root.TryGetProperty("code", out var c) || c.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(c.GetString()))
            {
                return $"a {status} problem without a code";
            }
            return null;
        }
        catch (JsonException)
        {
            return $"a {status} problem that is not JSON";
        }
    }

    private static async Task QuiesceAsync(string connectionString)
    {
        var last = await DatabaseSnapshot.TakeAsync(connectionString);
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(150);
            var now = await DatabaseSnapshot.TakeAsync(connectionString);
            if (last.Diff(now).Count == 0)
            {
                return;
            }
            last = now;
        }
    }

    private static string Trim(string s) => s.Length > 400 ? s[..400] + "…" : s;
}
