using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Payments.IntegrationTests.Webhooks;

/// <summary>One request the receiver got: when, the signature header and the raw body.</summary>
internal sealed record ReceivedDelivery(DateTimeOffset At, string Path, int Status, string? Signature, string Body, string? TraceParent = null)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;
    public string EventId => Json.GetProperty("id").GetString()!;
    public string Type => Json.GetProperty("type").GetString()!;
    public long Sequence => Json.GetProperty("sequence").GetInt64();
    public bool Ok => Status is >= 200 and < 300;
}

/// <summary>
/// A merchant's webhook receiver on a real loopback port (Kestrel). Every request is recorded; <see cref="Respond"/>
/// decides the status per path (default 200), so a test can fail the first attempts or hang.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentQueue<ReceivedDelivery> received = new();
    private readonly SemaphoreSlim arrived = new(0);

    private WebhookReceiver(WebApplication app) => this.app = app;

    /// <summary>Decides the answer to a request (path, how many requests that path got before it); may wait.</summary>
    public Func<string, int, CancellationToken, Task<int>> Respond { get; set; } = (_, _, _) => Task.FromResult(200);

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>What the gateway's tables say, added to a timeout's message.</summary>
    public Func<Task<string>>? Diagnostics { get; set; }

    public IReadOnlyList<ReceivedDelivery> Received => [.. received];

    public IReadOnlyList<ReceivedDelivery> At(string path) => [.. received.Where(r => r.Path == path)];

    /// <summary>The deliveries to <paramref name="path"/> that were answered 2xx, in arrival order.</summary>
    public static IReadOnlyList<ReceivedDelivery> Accepted(IReadOnlyList<ReceivedDelivery> all, string path) =>
        [.. all.Where(r => r.Path == path && r.Ok)];

    public string Url(string path) => new Uri(BaseAddress, path).ToString();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        var counts = new ConcurrentDictionary<string, int>();
        app.MapPost("/{**path}", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync(http.RequestAborted);
            var path = http.Request.Path.Value!;
            var before = counts.AddOrUpdate(path, 1, (_, n) => n + 1) - 1;
            var status = await receiver.Respond(path, before, http.RequestAborted);
            receiver.received.Enqueue(new ReceivedDelivery(DateTimeOffset.UtcNow, path, status,
                http.Request.Headers["Payments-Signature"].ToString(), body,
                http.Request.Headers.TryGetValue("traceparent", out var trace) ? trace.ToString() : null));
            receiver.arrived.Release();
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.BaseAddress = new Uri(address + "/");
        return receiver;
    }

    /// <summary>
    /// Waits until the recorded requests satisfy <paramref name="condition"/>, or fails after the timeout (generous: the first
    /// message in a fresh Host compiles Wolverine's handler chain, slow on a loaded 2-core machine).
    /// </summary>
    public async Task<IReadOnlyList<ReceivedDelivery>> WaitForAsync(Func<IReadOnlyList<ReceivedDelivery>, bool> condition,
        TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var snapshot = Received;
            if (condition(snapshot))
            {
                return snapshot;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Timed out waiting for {what ?? "deliveries"}; received {snapshot.Count}: " +
                    string.Join(", ", snapshot.Select(r => $"{r.Path}#{r.Sequence} {r.Type} {r.Status}")) +
                    (Diagnostics is null ? "" : "\n" + await Diagnostics()));
            }
            await arrived.WaitAsync(left < TimeSpan.FromMilliseconds(500) ? left : TimeSpan.FromMilliseconds(500));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        arrived.Dispose();
    }
}
