using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Payments.Reliability.Tests;

/// <summary>One try of a request: an answer, or what went wrong on the wire.</summary>
internal sealed record Attempt(int Host, int? Status, string? Code, string? MediaType, string? Failure, bool TimedOut, DateTime At);

/// <summary>A request with its Idempotency-Key, every attempt made with that key, and its final answer.</summary>
internal sealed class LedgerRequest(string kind, string method, string path, string body, long amount)
{
    public string Kind { get; } = kind;
    public string Method { get; } = method;
    public string Path { get; } = path;
    public string Body { get; } = body;
    public long Amount { get; } = amount;
    public string Key { get; } = Guid.NewGuid().ToString();
    public ConcurrentQueue<Attempt> Attempts { get; } = new();
    public int? FinalStatus { get; set; }
    public string? FinalBody { get; set; }

    public bool Acknowledged => FinalStatus is >= 200 and < 300;

    public JsonElement FinalJson
    {
        get
        {
            using var doc = JsonDocument.Parse(FinalBody!);
            return doc.RootElement.Clone();
        }
    }

    public override string ToString() => $"{Kind} {Method} {Path} key={Key} body={Body}";
}

/// <summary>One payment's life in the load: authorize, then captures, voids and refunds with explicit amounts.</summary>
internal sealed class PaymentFlow(string orderId, long amount)
{
    public string OrderId { get; } = orderId;
    public long Amount { get; } = amount;
    public string? TrxId { get; set; }
    public List<LedgerRequest> Requests { get; } = [];
}

/// <summary>
/// The merchant's side of the load: calls either Host with a client timeout, retries a failed try with the same
/// Idempotency-Key on the other Host (as a careful merchant would), and keeps every attempt for the verdict.
/// </summary>
internal sealed class LoadClient : IDisposable
{
    public static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(15);

    private readonly HttpClient[] hosts;
    private readonly string token;

    public LoadClient(IEnumerable<Uri> hostUrls, string accessToken)
    {
        hosts = hostUrls.Select(u => new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionLifetime = TimeSpan.FromSeconds(30),
        })
        { BaseAddress = u, Timeout = ClientTimeout }).ToArray();
        token = accessToken;
    }

    public int HostCount => hosts.Length;

    /// <summary>Tries until a final answer (anything but a 503, a 5xx, a 409 in progress, a 429 or no answer) or until <paramref name="stop"/>.</summary>
    public async Task<bool> CallUntilFinalAsync(LedgerRequest r, int firstHost, CancellationToken stop)
    {
        var host = firstHost;
        while (!stop.IsCancellationRequested)
        {
            var attempt = await SendOnceAsync(r, host % hosts.Length);
            r.Attempts.Enqueue(attempt.Attempt);
            if (attempt.Final)
            {
                r.FinalStatus = attempt.Attempt.Status;
                r.FinalBody = attempt.Body;
                return true;
            }
            host++;
            try
            {
                await Task.Delay(attempt.RetryAfter ?? TimeSpan.FromMilliseconds(150), stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        return false;
    }

    public async Task<(Attempt Attempt, bool Final, string? Body, TimeSpan? RetryAfter, HttpResponseHeaders? Headers)> SendOnceAsync(LedgerRequest r, int host)
    {
        using var request = new HttpRequestMessage(new HttpMethod(r.Method), r.Path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("Idempotency-Key", r.Key);
        if (r.Method != "GET")
        {
            request.Content = new StringContent(r.Body, Encoding.UTF8, "application/json");
        }
        try
        {
            using var response = await hosts[host].SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            var media = response.Content.Headers.ContentType?.MediaType;
            string? code = null;
            if (media == "application/problem+json")
            {
                try
                {
                    using var doc = JsonDocument.Parse(body);
                    code = doc.RootElement.TryGetProperty("code", out var c) ? c.GetString() : null;
                }
                catch (JsonException)
                {
                }
            }
            var retryAfter = response.Headers.RetryAfter?.Delta is { } d ? TimeSpan.FromMilliseconds(Math.Min(d.TotalMilliseconds, 1000)) : (TimeSpan?)null;
            var temporary = status >= 500 || status == 429 || (status == 409 && code == "idempotency_request_in_progress");
            return (new Attempt(host, status, code, media, null, false, DateTime.UtcNow), !temporary, body, retryAfter, response.Headers);
        }
        catch (TaskCanceledException)
        {
            return (new Attempt(host, null, null, null, "no answer within the client timeout", true, DateTime.UtcNow), false, null, null, null);
        }
        catch (HttpRequestException e)
        {
            return (new Attempt(host, null, null, null, e.HttpRequestError.ToString(), false, DateTime.UtcNow), false, null, null, null);
        }
    }

    /// <summary>One read, retried on a failed try: for the verdict after recovery.</summary>
    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        for (var i = 0; ; i++)
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await hosts[i % hosts.Length].SendAsync(request);
                var status = (int)response.StatusCode;
                if (status < 500 || i >= 20)
                {
                    return (status, await response.Content.ReadAsStringAsync());
                }
            }
            catch (Exception e) when ((e is HttpRequestException or TaskCanceledException) && i < 20)
            {
            }
            await Task.Delay(250);
        }
    }

    public void Dispose()
    {
        foreach (var h in hosts)
        {
            h.Dispose();
        }
    }

    public static bool IsConnectionRefusal(Attempt a) => a.Status is null && !a.TimedOut;

    public static HttpStatusCode? StatusOf(Attempt a) => a.Status is { } s ? (HttpStatusCode)s : null;
}
