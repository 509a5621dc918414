using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Payments.Perf.Measure;

namespace Payments.Perf.Api;

/// <summary>What one HTTP call answered: status (0 for a transport failure), the problem's code, the JSON body.</summary>
internal readonly record struct ApiResult(int Status, string? Code, JsonNode? Body, int? RetryAfterSeconds = null)
{
    // The contract's successes for the routes driven here are 200 and 201; a 204 (no body) is never a valid answer.
    public bool Ok => Status is 200 or 201;

    public string? Str(string field) => Body?[field]?.GetValue<string>();
}

/// <summary>A merchant the suite created with the operator verb, its token and its card tokens.</summary>
internal sealed class Merchant(string merchantId, HttpClient http)
{
    public string MerchantId { get; } = merchantId;

    /// <summary>A client of the Host that sends this merchant's bearer token.</summary>
    public HttpClient Http { get; } = http;

    public List<string> CardTokens { get; } = [];

    public string CardToken(long i) => CardTokens[(int)(i % CardTokens.Count)];
}

/// <summary>
/// The merchant API as the contract (/work/shared/API.md) defines it, over one shared <see cref="SocketsHttpHandler"/>
/// (HTTP/1.1 keep-alive on loopback). Every call is timed into a phase when one is given.
/// </summary>
internal sealed class GatewayApi : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly bool idempotencyKeys;
    private readonly SocketsHttpHandler handler = new()
    {
        MaxConnectionsPerServer = 1024,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
    };

    public GatewayApi(Uri hostUrl, Uri vaultUrl, bool idempotencyKeys = true)
    {
        this.idempotencyKeys = idempotencyKeys;
        Loopback.Require(hostUrl);
        Loopback.Require(vaultUrl);
        HostUrl = hostUrl;
        VaultUrl = vaultUrl;
        Anonymous = Client(null);
    }

    public Uri HostUrl { get; }

    public Uri VaultUrl { get; }

    public HttpClient Anonymous { get; }

    /// <summary>Operations the gateway acknowledged (2xx), for the invariant check after the run.</summary>
    public AckLog Acks { get; } = new();

    public HttpClient Client(string? bearer)
    {
        var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = HostUrl, Timeout = TimeSpan.FromSeconds(30) };
        if (bearer is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        return http;
    }

    public async Task<Merchant> SignInAsync(string merchantId, string clientId, string clientSecret)
    {
        var res = await SendAsync(Anonymous, HttpMethod.Post, "v1/auth/token", new JsonObject { ["client_id"] = clientId, ["client_secret"] = clientSecret });
        var token = res.Ok ? res.Str("access_token") : null;
        if (token is null)
        {
            throw new InvalidOperationException($"POST /v1/auth/token answered {res.Status} {res.Code}");
        }
        return new Merchant(merchantId, Client(token));
    }

    /// <summary>Tokenizes a card the way a PCI-scoped merchant server does: an intent on the Host, the card to the Vault.</summary>
    public async Task<string> TokenizeCardAsync(Merchant m, string number)
    {
        var intent = await SendAsync(m.Http, HttpMethod.Post, "v1/tokenization-intents", new JsonObject());
        var id = intent.Str("id");
        var secret = intent.Str("client_secret");
        if (!intent.Ok || id is null || secret is null)
        {
            throw new InvalidOperationException($"POST /v1/tokenization-intents answered {intent.Status} {intent.Code}");
        }
        // The card goes to the Vault's origin, the one card_entry_url names.
        var vault = intent.Str("card_entry_url") is { } entry && Uri.TryCreate(entry, UriKind.Absolute, out var u)
            ? new Uri(u.GetLeftPart(UriPartial.Authority) + "/")
            : VaultUrl;
        Loopback.Require(vault);
        using var vaultHttp = new HttpClient(handler, disposeHandler: false) { BaseAddress = vault, Timeout = TimeSpan.FromSeconds(30) };
        var card = await SendAsync(vaultHttp, HttpMethod.Post, $"v1/tokenization-intents/{id}/card", new JsonObject
        {
            ["client_secret"] = secret,
            ["number"] = number,
            ["exp_month"] = 12,
            ["exp_year"] = DateTime.UtcNow.Year + 3,
            ["cvc"] = "123",
            ["holder_name"] = "Perf Suite",
        });
        if (!card.Ok)
        {
            throw new InvalidOperationException($"POST (Vault) /v1/tokenization-intents/{{id}}/card answered {card.Status} {card.Code}");
        }
        var token = card.Str("card_token");
        if (token is null)
        {
            var read = await SendAsync(m.Http, HttpMethod.Get, $"v1/tokenization-intents/{id}", null);
            token = read.Str("card_token");
        }
        return token ?? throw new InvalidOperationException("The tokenization intent succeeded without a card_token.");
    }

    public async Task<ApiResult> AuthorizeAsync(Merchant m, string operation, long amount, long seq, PhaseStats? phase, string step, long startTicks,
        string? idempotencyKey = null, string orderPrefix = "perf")
    {
        var body = new JsonObject
        {
            ["operation"] = operation,
            ["amount"] = amount,
            ["currency"] = "USD",
            ["card_token"] = m.CardToken(seq),
            ["order_id"] = $"{orderPrefix}-{seq}",
        };
        var res = await SendAsync(m.Http, HttpMethod.Post, "v1/transactions", body, idempotencyKey ?? Guid.NewGuid().ToString("N"), phase, step, startTicks);
        if (res.Status == 201 && res.Str("trx_id") is { } trx)
        {
            Acks.Add(new Ack(m.MerchantId, trx, operation == "authcap" ? AckKind.Authcap : AckKind.Authorize, amount, res.Str("status")));
        }
        return res;
    }

    public async Task<ApiResult> OperateAsync(Merchant m, string trxId, string operation, long? amount, PhaseStats? phase, string step, long startTicks,
        string? idempotencyKey = null)
    {
        var body = new JsonObject { ["operation"] = operation };
        if (amount is long a)
        {
            body["amount"] = a;
        }
        var res = await SendAsync(m.Http, HttpMethod.Post, $"v1/transactions/{trxId}", body, idempotencyKey ?? Guid.NewGuid().ToString("N"), phase, step, startTicks);
        if (res.Status == 200)
        {
            Acks.Add(new Ack(m.MerchantId, trxId, operation == "capture" ? AckKind.Capture : AckKind.Void, amount ?? -1, res.Str("status")));
        }
        return res;
    }

    public async Task<ApiResult> RefundAsync(Merchant m, string trxId, long amount, PhaseStats? phase, string step, long startTicks)
    {
        var res = await SendAsync(m.Http, HttpMethod.Post, $"v1/transactions/{trxId}/refunds", new JsonObject { ["amount"] = amount },
            Guid.NewGuid().ToString("N"), phase, step, startTicks);
        if (res.Status == 201 && res.Str("trx_id") is { } refund)
        {
            Acks.Add(new Ack(m.MerchantId, trxId, AckKind.Refund, amount, res.Str("status"), refund));
        }
        return res;
    }

    public Task<ApiResult> ListAsync(Merchant m, string query, PhaseStats? phase, string step, long startTicks) =>
        SendAsync(m.Http, HttpMethod.Get, "v1/transactions?" + query, null, null, phase, step, startTicks);

    public async Task<ApiResult> SendAsync(
        HttpClient http, HttpMethod method, string path, JsonNode? body, string? idempotencyKey = null,
        PhaseStats? phase = null, string? step = null, long startTicks = 0)
    {
        if (startTicks == 0)
        {
            startTicks = Stopwatch.GetTimestamp();
        }
        ApiResult result;
        try
        {
            using var req = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                req.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.ToJsonString()));
                req.Content.Headers.ContentType = Json;
            }
            if (idempotencyKey is not null && idempotencyKeys)
            {
                req.Headers.Add("Idempotency-Key", idempotencyKey);
            }
            using var res = await http.SendAsync(req);
            var bytes = await res.Content.ReadAsByteArrayAsync();
            JsonNode? json = null;
            if (bytes.Length > 0 && res.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true)
            {
                try
                {
                    json = JsonNode.Parse(bytes);
                }
                catch (JsonException)
                {
                }
            }
            var status = (int)res.StatusCode;
            string? code = null;
            if (status >= 400)
            {
                code = json?["code"]?.GetValue<string>() ?? (status == (int)HttpStatusCode.NotFound ? "no_route" : null);
            }
            result = new ApiResult(status, code, json, res.Headers.RetryAfter?.Delta is { } ra ? (int)Math.Ceiling(ra.TotalSeconds) : null);
        }
        catch (HttpRequestException e)
        {
            result = new ApiResult(0, e.HttpRequestError.ToString(), null);
        }
        catch (TaskCanceledException)
        {
            result = new ApiResult(0, "timeout", null);
        }
        if (phase is not null && step is not null)
        {
            phase.Record(step, startTicks, result.Status, result.Code);
        }
        return result;
    }

    public void Dispose()
    {
        Anonymous.Dispose();
        handler.Dispose();
    }
}

internal static class Loopback
{
    /// <summary>The suite sends traffic to this machine only.</summary>
    public static void Require(Uri url)
    {
        if (!url.IsLoopback)
        {
            throw new ArgumentException($"The load suite only talks to loopback addresses, not {url.Host}.", nameof(url));
        }
    }
}
