using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Observability;

namespace Payments.Webhooks.Delivery;

/// <summary>Resolves a host name; replaceable so tests can point a public-looking name at loopback.</summary>
internal interface IWebhookHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct);
}

internal sealed class DnsHostResolver : IWebhookHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => Dns.GetHostAddressesAsync(host, ct);
}

/// <summary>The connection went to no allowed address (SSRF guard).</summary>
internal sealed class AddressRefusedException(string message) : IOException(message);

/// <summary>One attempt's outcome: an HTTP status (2xx is success) or an error.</summary>
internal sealed record AttemptResult(bool Delivered, int? Status, string? Error);

/// <summary>
/// Sends one delivery: a POST of the event's exact bytes to the registered URL, signed, with a timeout; redirects are
/// not followed (only the registered URL is called) and every connection is checked against <see cref="AddressPolicy"/>
/// after DNS resolution.
/// </summary>
internal sealed class WebhookSender(IHttpClientFactory clients, IOptions<WebhooksOptions> options, TimeProvider clock)
{
    public const string HttpClientName = "webhooks";
    public const string SignatureHeader = "Payments-Signature";

    public static void Configure(IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var sandbox = sp.GetRequiredService<IOptions<GatewayOptions>>().Value.IsSandbox;
                var resolver = sp.GetRequiredService<IWebhookHostResolver>();
                return new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    UseProxy = false,
                    UseCookies = false,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(1),
                    ConnectCallback = (context, ct) => ConnectAsync(context, resolver, sandbox, ct),
                    // A merchant's endpoint is outside: it gets no traceparent (no internal trace ids leave).
                    ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
                };
            })
            .ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
    }

    /// <summary>The header value: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body" keyed by the secret's UTF-8&gt;</c>.</summary>
    public static string Signature(string secret, long unixSeconds, string body)
    {
        var payload = Encoding.UTF8.GetBytes(unixSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) + "." + body);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), payload);
        return $"t={unixSeconds},v1={Convert.ToHexStringLower(mac)}";
    }

    public async Task<AttemptResult> SendAsync(string url, string secret, string eventId, string body, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.AttemptTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation(SignatureHeader, Signature(secret, clock.GetUtcNow().ToUnixTimeSeconds(), body));
        request.Headers.TryAddWithoutValidation("Payments-Event-Id", eventId);
        request.Headers.UserAgent.ParseAdd("Payments-Webhooks/1");
        using var span = GatewayInstruments.Webhooks.StartActivity("webhook deliver");
        // A merchant's endpoint is outside: the request is sent in no trace and uninstrumented, so no traceparent
        // (ours or a fresh one) goes with it; the span above times it.
        Activity.Current = null;
        using var untraced = OpenTelemetry.SuppressInstrumentationScope.Begin();
        var started = Stopwatch.GetTimestamp();
        var result = "connection_failed";
        try
        {
            using var response = await clients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var status = (int)response.StatusCode;
            result = status is >= 200 and < 300 ? "delivered" : "http_error";
            return new AttemptResult(status is >= 200 and < 300, status, status is >= 200 and < 300 ? null : $"HTTP {status}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            result = "timeout";
            return new AttemptResult(false, null, $"No answer within {options.Value.AttemptTimeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException e)
        {
            var refused = FindRefusal(e);
            result = refused is null ? "connection_failed" : "refused";
            return new AttemptResult(false, null, refused?.Message ?? "Connection failed: " + (e.HttpRequestError.ToString()));
        }
        finally
        {
            var tag = new KeyValuePair<string, object?>("result", result);
            span?.SetTag("payments.webhook.result", result);
            GatewayInstruments.WebhookDeliveries.Add(1, tag);
            GatewayInstruments.WebhookDeliveryDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tag);
        }
    }

    private static AddressRefusedException? FindRefusal(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is AddressRefusedException r)
            {
                return r;
            }
        }
        return null;
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, IWebhookHostResolver resolver,
        bool sandbox, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await resolver.ResolveAsync(host, ct);
        var allowed = addresses.Where(a => AddressPolicy.IsAllowed(a, sandbox)).ToList();
        if (allowed.Count == 0)
        {
            throw new AddressRefusedException(addresses.Length == 0
                ? $"Refused: {host} does not resolve."
                : $"Refused: {host} resolves to an address that is not public ({addresses[0]}).");
        }
        // Connect to the checked address itself, never to a fresh resolution of the name.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed.Select(a => new IPEndPoint(a, context.DnsEndPoint.Port)).First(), ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
