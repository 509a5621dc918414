using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Payments.Client;

/// <summary>
/// The merchant API of the Payments gateway. Thread-safe: make one per set of credentials and share it.
/// <list type="bullet">
/// <item>Gets an access token from the client credentials on first use and renews it before it expires (and once
/// more if the gateway answers 401, e.g. after a revocation).</item>
/// <item>Sends an <c>Idempotency-Key</c> on every POST that creates an object or moves money, generated per call
/// unless given, and reuses it on its own retries, so a retried call never charges twice.</item>
/// <item>Retries only what is safe: reads, and keyed POSTs whose answer leaves the key free (network failure,
/// 429, 5xx, a 409 that carries <c>Retry-After</c>), honouring <c>Retry-After</c> with jitter, at most
/// <see cref="PaymentsClientOptions.MaxRetries"/> times.</item>
/// <item>Turns problem+json answers into <see cref="PaymentsApiException"/> subclasses.</item>
/// </list>
/// </summary>
public sealed partial class PaymentsClient : IDisposable
{
    private static readonly JsonSerializerOptions WriteOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly JsonSerializerOptions ReadOptions = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        // Newer gateways may add fields; an old client keeps working.
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    private readonly HttpClient http;
    private readonly bool ownsHttp;
    private readonly PaymentsClientOptions options;
    private readonly Uri baseAddress;
    private readonly SemaphoreSlim tokenLock = new(1, 1);
    private CachedToken? token;

    /// <summary>Makes a client with its own <see cref="HttpClient"/>.</summary>
    public PaymentsClient(PaymentsClientOptions options)
        : this(options, new HttpClient(), ownsHttp: true)
    {
    }

    /// <summary>
    /// Makes a client over <paramref name="httpClient"/> (e.g. from IHttpClientFactory). Its BaseAddress is ignored:
    /// <see cref="PaymentsClientOptions.BaseAddress"/> is used.
    /// </summary>
    public PaymentsClient(PaymentsClientOptions options, HttpClient httpClient)
        : this(options, httpClient, ownsHttp: false)
    {
    }

    private PaymentsClient(PaymentsClientOptions options, HttpClient httpClient, bool ownsHttp)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(httpClient);
        this.options = options;
        baseAddress = WithTrailingSlash(options.BaseAddress);
        http = httpClient;
        this.ownsHttp = ownsHttp;
    }

    public void Dispose()
    {
        tokenLock.Dispose();
        if (ownsHttp)
        {
            http.Dispose();
        }
    }

    // ---- Auth ----

    /// <summary>A valid access token, fetched or renewed when needed.</summary>
    public async Task<string> GetAccessTokenAsync(CancellationToken cancellationToken = default)
    {
        var current = Volatile.Read(ref token);
        if (current is not null && options.TimeProvider.GetUtcNow() < current.RenewAt)
        {
            return current.Value;
        }
        await tokenLock.WaitAsync(cancellationToken);
        try
        {
            current = token;
            var now = options.TimeProvider.GetUtcNow();
            if (current is not null && now < current.RenewAt)
            {
                return current.Value;
            }
            var fresh = await RequestTokenAsync(cancellationToken);
            var lifetime = TimeSpan.FromSeconds(Math.Max(fresh.ExpiresIn, 0));
            var margin = options.TokenRefreshMargin < lifetime / 2 ? options.TokenRefreshMargin : lifetime / 2;
            Volatile.Write(ref token, new CachedToken(fresh.Value, now + lifetime - margin));
            return fresh.Value;
        }
        finally
        {
            tokenLock.Release();
        }
    }

    /// <summary><c>POST /v1/auth/token</c>: exchanges the client credentials for a new token (not cached).</summary>
    public Task<AccessToken> RequestTokenAsync(CancellationToken cancellationToken = default) =>
        SendAsync<AccessToken>(new Call(HttpMethod.Post, "v1/auth/token")
        {
            Body = new { client_id = options.ClientId, client_secret = options.ClientSecret },
            Authenticated = false,
            RetrySafe = true,
            RetryOnRateLimit = false,
        }, cancellationToken);

    /// <summary><c>POST /v1/auth/revoke</c>: revokes the token this client holds; the next call gets a new one.</summary>
    public async Task RevokeTokenAsync(CancellationToken cancellationToken = default)
    {
        var current = Volatile.Read(ref token);
        if (current is null)
        {
            return;
        }
        using var response = await SendRawAsync(new Call(HttpMethod.Post, "v1/auth/revoke")
        {
            Body = new { token = current.Value },
            RetrySafe = true,
        }, cancellationToken);
        Interlocked.CompareExchange(ref token, null, current);
        await EnsureSuccessAsync(response.Message, response.IdempotencyKey, cancellationToken);
    }

    /// <summary><c>GET /.well-known/jwks.json</c>: the gateway's public signing keys.</summary>
    public async Task<JsonElement> GetJwksAsync(CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(new Call(HttpMethod.Get, ".well-known/jwks.json") { Authenticated = false }, cancellationToken);
        await EnsureSuccessAsync(response.Message, null, cancellationToken);
        using var doc = JsonDocument.Parse(await response.Message.Content.ReadAsStringAsync(cancellationToken));
        return doc.RootElement.Clone();
    }

    // ---- Tokenization ----

    /// <summary><c>POST /v1/tokenization-intents</c>.</summary>
    public Task<TokenizationIntent> CreateTokenizationIntentAsync(CreateTokenizationIntentRequest? request = null,
        RequestOptions? requestOptions = null, CancellationToken cancellationToken = default) =>
        SendAsync<TokenizationIntent>(new Call(HttpMethod.Post, "v1/tokenization-intents")
        {
            Body = request ?? new CreateTokenizationIntentRequest(),
            Idempotent = true,
            Options = requestOptions,
        }, cancellationToken);

    /// <summary><c>GET /v1/tokenization-intents/{id}</c>.</summary>
    public Task<TokenizationIntent> GetTokenizationIntentAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<TokenizationIntent>(new Call(HttpMethod.Get, "v1/tokenization-intents/" + Segment(id)), cancellationToken);

    /// <summary>
    /// Posts card data straight to the Vault (<c>POST /v1/tokenization-intents/{id}/card</c> on the origin of
    /// <see cref="TokenizationIntent.CardEntryUrl"/>), never through the merchant API. Only for a PCI DSS–assessed
    /// merchant server; otherwise send the cardholder to the card-entry page. Not retried: a second submission
    /// would count as another attempt.
    /// </summary>
    public Task<TokenizationIntent> SubmitCardAsync(TokenizationIntent intent, CardInput card, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(intent);
        if (intent.ClientSecret is null || intent.CardEntryUrl is null)
        {
            throw new ArgumentException("The intent carries no client_secret or card_entry_url: use the one CreateTokenizationIntentAsync returned.", nameof(intent));
        }
        var origin = new Uri(new Uri(intent.CardEntryUrl).GetLeftPart(UriPartial.Authority) + "/");
        return SubmitCardAsync(origin, intent.Id, intent.ClientSecret, card, cancellationToken);
    }

    /// <summary>Posts card data to the Vault at <paramref name="vaultOrigin"/> for intent <paramref name="intentId"/>.</summary>
    public Task<TokenizationIntent> SubmitCardAsync(Uri vaultOrigin, string intentId, string clientSecret, CardInput card,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vaultOrigin);
        ArgumentNullException.ThrowIfNull(card);
        return SendAsync<TokenizationIntent>(new Call(HttpMethod.Post, new Uri(vaultOrigin, "v1/tokenization-intents/" + Segment(intentId) + "/card"))
        {
            Body = new CardSubmission(clientSecret, card.Number, card.ExpMonth, card.ExpYear, card.Cvc, card.HolderName),
            Authenticated = false,
        }, cancellationToken);
    }

    /// <summary><c>DELETE /v1/card-tokens/{tok}</c>: the Vault destroys the card data.</summary>
    public async Task DeleteCardTokenAsync(string cardToken, CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(new Call(HttpMethod.Delete, "v1/card-tokens/" + Segment(cardToken)), cancellationToken);
        await EnsureSuccessAsync(response.Message, null, cancellationToken);
    }

    // ---- Payment intents ----

    /// <summary><c>POST /v1/payment-intents</c>.</summary>
    public Task<PaymentIntent> CreatePaymentIntentAsync(CreatePaymentIntentRequest request, RequestOptions? requestOptions = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<PaymentIntent>(new Call(HttpMethod.Post, "v1/payment-intents") { Body = request, Idempotent = true, Options = requestOptions }, cancellationToken);

    /// <summary><c>GET /v1/payment-intents/{id}</c>.</summary>
    public Task<PaymentIntent> GetPaymentIntentAsync(string id, CancellationToken cancellationToken = default) =>
        SendAsync<PaymentIntent>(new Call(HttpMethod.Get, "v1/payment-intents/" + Segment(id)), cancellationToken);

    /// <summary><c>POST /v1/payment-intents/{id}/cancel</c>.</summary>
    public Task<PaymentIntent> CancelPaymentIntentAsync(string id, RequestOptions? requestOptions = null, CancellationToken cancellationToken = default) =>
        SendAsync<PaymentIntent>(new Call(HttpMethod.Post, "v1/payment-intents/" + Segment(id) + "/cancel")
        {
            Idempotent = true,
            Options = requestOptions,
        }, cancellationToken);

    // ---- Transactions ----

    /// <summary>
    /// <c>POST /v1/transactions</c>: authorize or authcap. A decline is not an exception: the transaction comes back
    /// <see cref="TransactionStatus.Declined"/> with its <see cref="Transaction.DeclineCode"/>.
    /// </summary>
    public Task<Transaction> CreateTransactionAsync(CreateTransactionRequest request, RequestOptions? requestOptions = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<Transaction>(new Call(HttpMethod.Post, "v1/transactions") { Body = request, Idempotent = true, Options = requestOptions }, cancellationToken);

    /// <summary><c>POST /v1/transactions/{trx_id}</c> with <c>capture</c>; a null amount captures all that remains.</summary>
    public Task<Transaction> CaptureAsync(string trxId, long? amount = null, RequestOptions? requestOptions = null,
        CancellationToken cancellationToken = default) =>
        OperateAsync(trxId, TransactionOperation.Capture, amount, requestOptions, cancellationToken);

    /// <summary><c>POST /v1/transactions/{trx_id}</c> with <c>void</c>; a null amount releases all that remains.</summary>
    public Task<Transaction> VoidAsync(string trxId, long? amount = null, RequestOptions? requestOptions = null,
        CancellationToken cancellationToken = default) =>
        OperateAsync(trxId, TransactionOperation.Void, amount, requestOptions, cancellationToken);

    private Task<Transaction> OperateAsync(string trxId, string operation, long? amount, RequestOptions? requestOptions, CancellationToken ct) =>
        SendAsync<Transaction>(new Call(HttpMethod.Post, "v1/transactions/" + Segment(trxId))
        {
            Body = new TransactionOperationBody(operation, amount),
            Idempotent = true,
            Options = requestOptions,
        }, ct);

    /// <summary><c>POST /v1/transactions/{trx_id}/refunds</c>: a new <see cref="TransactionType.Refund"/> transaction.</summary>
    public Task<Transaction> RefundAsync(string trxId, CreateRefundRequest? request = null, RequestOptions? requestOptions = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<Transaction>(new Call(HttpMethod.Post, "v1/transactions/" + Segment(trxId) + "/refunds")
        {
            Body = request ?? new CreateRefundRequest(),
            Idempotent = true,
            Options = requestOptions,
        }, cancellationToken);

    /// <summary><c>GET /v1/transactions/{trx_id}</c>, with its history; <see cref="ResponseInfo.ETag"/> is its version.</summary>
    public Task<Transaction> GetTransactionAsync(string trxId, CancellationToken cancellationToken = default) =>
        SendAsync<Transaction>(new Call(HttpMethod.Get, "v1/transactions/" + Segment(trxId)), cancellationToken);

    /// <summary><c>GET /v1/transactions/lookup</c>: the payment with that external_id, or the latest with that order_id.</summary>
    public Task<Transaction> LookupTransactionAsync(LookupIdType idType, string id, CancellationToken cancellationToken = default) =>
        SendAsync<Transaction>(new Call(HttpMethod.Get,
            "v1/transactions/lookup?id_type=" + (idType == LookupIdType.ExternalId ? "external_id" : "order_id") + "&id=" + Uri.EscapeDataString(id)),
            cancellationToken);

    /// <summary><c>GET /v1/transactions</c>: one page.</summary>
    public Task<TransactionPage> ListTransactionsAsync(ListTransactionsRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return SendAsync<TransactionPage>(new Call(HttpMethod.Get, "v1/transactions?" + QueryOf(request)), cancellationToken);
    }

    /// <summary>
    /// Every transaction matching <paramref name="request"/> once, page after page: sorted by <c>created_at</c>
    /// (in <see cref="ListTransactionsRequest.SortDirection"/>) and pinned to the first page's <c>as_of</c>, so
    /// neither new transactions nor changes to listed ones move rows between pages.
    /// </summary>
    /// <exception cref="ArgumentException"><see cref="ListTransactionsRequest.SortBy"/> is set to another field: rows
    /// would move between pages as they change (use <see cref="ListTransactionsAsync"/> page by page for that).</exception>
    public IAsyncEnumerable<Transaction> ListAllTransactionsAsync(ListTransactionsRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.SortBy is not null && request.SortBy != CreatedAt)
        {
            throw new ArgumentException(
                $"ListAllTransactionsAsync pages by {CreatedAt}; under sort_by={request.SortBy} a transaction that changes between two pages moves and is listed twice or skipped.",
                nameof(request));
        }
        return ListAllTransactionsCoreAsync(request, cancellationToken);
    }

    private const string CreatedAt = "created_at";

    private async IAsyncEnumerable<Transaction> ListAllTransactionsCoreAsync(ListTransactionsRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var offset = Math.Max(request.Offset ?? 0, 0);
        var asOf = request.AsOf;
        while (true)
        {
            var page = await ListTransactionsAsync(new ListTransactionsRequest
            {
                StartDate = request.StartDate,
                EndDate = request.EndDate,
                Offset = offset,
                Limit = request.Limit,
                // created_at never changes and as_of leaves out later rows, so offsets stay valid: the gateway's
                // default (updated_at) moves a row captured or voided between two pages.
                SortBy = CreatedAt,
                SortDirection = request.SortDirection,
                Type = request.Type,
                Status = request.Status,
                AsOf = asOf,
            }, cancellationToken);
            asOf ??= page.AsOf;
            foreach (var t in page.Data)
            {
                yield return t;
            }
            if (!page.HasMore || page.Data.Count == 0)
            {
                yield break;
            }
            offset = page.Offset + page.Data.Count;
        }
    }

    /// <summary><c>GET /v1/transactions/{trx_id}/history/verify</c>.</summary>
    public Task<HistoryVerification> VerifyHistoryAsync(string trxId, CancellationToken cancellationToken = default) =>
        SendAsync<HistoryVerification>(new Call(HttpMethod.Get, "v1/transactions/" + Segment(trxId) + "/history/verify"), cancellationToken);

    // ---- Sandbox ----

    /// <summary><c>POST /v1/sandbox/expire-authorizations</c> (sandbox mode only).</summary>
    public Task<ExpireAuthorizationsResult> SandboxExpireAuthorizationsAsync(DateTimeOffset asOf, CancellationToken cancellationToken = default) =>
        SendAsync<ExpireAuthorizationsResult>(new Call(HttpMethod.Post, "v1/sandbox/expire-authorizations") { Body = new { as_of = asOf } }, cancellationToken);

    /// <summary><c>POST /v1/sandbox/settle</c> (sandbox mode only).</summary>
    public Task<SettlementResult> SandboxSettleAsync(CancellationToken cancellationToken = default) =>
        SendAsync<SettlementResult>(new Call(HttpMethod.Post, "v1/sandbox/settle"), cancellationToken);

    /// <summary><c>POST /v1/sandbox/chargebacks</c> (sandbox mode only).</summary>
    public Task<Transaction> SandboxCreateChargebackAsync(CreateChargebackRequest request, RequestOptions? requestOptions = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<Transaction>(new Call(HttpMethod.Post, "v1/sandbox/chargebacks") { Body = request, Idempotent = true, Options = requestOptions }, cancellationToken);

    // ---- Webhooks ----

    /// <summary><c>POST /v1/webhook-endpoints</c>; keep the returned secret to verify signatures.</summary>
    public Task<WebhookEndpoint> CreateWebhookEndpointAsync(CreateWebhookEndpointRequest request, RequestOptions? requestOptions = null,
        CancellationToken cancellationToken = default) =>
        SendAsync<WebhookEndpoint>(new Call(HttpMethod.Post, "v1/webhook-endpoints") { Body = request, Idempotent = true, Options = requestOptions }, cancellationToken);

    /// <summary><c>GET /v1/webhook-endpoints</c>.</summary>
    public Task<List<WebhookEndpoint>> ListWebhookEndpointsAsync(CancellationToken cancellationToken = default) =>
        SendListAsync<WebhookEndpoint>(new Call(HttpMethod.Get, "v1/webhook-endpoints"), cancellationToken);

    /// <summary><c>DELETE /v1/webhook-endpoints/{id}</c>.</summary>
    public async Task DeleteWebhookEndpointAsync(string id, CancellationToken cancellationToken = default)
    {
        using var response = await SendRawAsync(new Call(HttpMethod.Delete, "v1/webhook-endpoints/" + Segment(id)), cancellationToken);
        await EnsureSuccessAsync(response.Message, null, cancellationToken);
    }

    /// <summary>
    /// <c>GET /v1/events?after_sequence=N&amp;limit=L</c>: one page of the merchant's events after
    /// <paramref name="afterSequence"/>, oldest first. <paramref name="limit"/> is 1 to 100 (the gateway's default,
    /// 100, when null; outside that range the gateway answers 400). When <see cref="EventPage.HasMore"/> is true, ask
    /// again after the last event's sequence, or use <see cref="ListAllEventsAsync"/>.
    /// </summary>
    public Task<EventPage> ListEventsAsync(long afterSequence = 0, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = "v1/events?after_sequence=" + afterSequence.ToString(CultureInfo.InvariantCulture)
                    + (limit is { } l ? "&limit=" + l.ToString(CultureInfo.InvariantCulture) : "");
        return SendAsync<EventPage>(new Call(HttpMethod.Get, query), cancellationToken);
    }

    /// <summary>
    /// Every event after <paramref name="afterSequence"/>, oldest first, page after page until the gateway has no
    /// more: the backfill after missed deliveries.
    /// </summary>
    public async IAsyncEnumerable<WebhookEvent> ListAllEventsAsync(long afterSequence = 0, int? limit = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var page = await ListEventsAsync(afterSequence, limit, cancellationToken);
            foreach (var e in page.Data)
            {
                yield return e;
            }
            if (!page.HasMore || page.Data.Count == 0)
            {
                yield break;
            }
            afterSequence = page.Data[^1].Sequence;
        }
    }

    /// <summary>
    /// <c>POST /v1/events/{id}/redeliver</c>: queues the event again for each enabled endpoint that takes its type;
    /// the answer says how many deliveries were queued (0 when no endpoint takes it).
    /// </summary>
    public Task<Redelivery> RedeliverEventAsync(string eventId, RequestOptions? requestOptions = null, CancellationToken cancellationToken = default) =>
        SendAsync<Redelivery>(new Call(HttpMethod.Post, "v1/events/" + Segment(eventId) + "/redeliver")
        {
            Idempotent = true,
            Options = requestOptions,
        }, cancellationToken);

    // ---- Plumbing ----

    internal static string QueryOf(ListTransactionsRequest r)
    {
        var q = new List<string>
        {
            "start_date=" + Uri.EscapeDataString(r.StartDate.ToString("dd/MM/yyyy", CultureInfo.InvariantCulture)),
            "end_date=" + Uri.EscapeDataString(r.EndDate.ToString("dd/MM/yyyy", CultureInfo.InvariantCulture)),
        };
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                q.Add(name + "=" + Uri.EscapeDataString(value));
            }
        }
        Add("offset", r.Offset?.ToString(CultureInfo.InvariantCulture));
        Add("limit", r.Limit?.ToString(CultureInfo.InvariantCulture));
        Add("sort_by", r.SortBy);
        Add("sort_direction", r.SortDirection);
        Add("type", r.Type);
        Add("status", r.Status);
        Add("as_of", r.AsOf);
        return string.Join('&', q);
    }

    /// <summary>
    /// Relative paths resolve against the base's last '/': without one, <c>http://host/gw</c> would lose its
    /// <c>gw</c> prefix and send <c>/v1/…</c> to the host's root.
    /// </summary>
    private static Uri WithTrailingSlash(Uri address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri)
        {
            throw new ArgumentException("BaseAddress must be an absolute URL, e.g. https://api.example.com/.", nameof(address));
        }
        return address.AbsolutePath.EndsWith('/') ? address : new UriBuilder(address) { Path = address.AbsolutePath + "/" }.Uri;
    }

    private static string Segment(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return Uri.EscapeDataString(id);
    }

    private async Task<T> SendAsync<T>(Call call, CancellationToken ct)
        where T : ApiObject
    {
        using var response = await SendRawAsync(call, ct);
        var message = response.Message;
        await EnsureSuccessAsync(message, response.IdempotencyKey, ct);
        var bytes = await message.Content.ReadAsByteArrayAsync(ct);
        var result = JsonSerializer.Deserialize<T>(bytes, ReadOptions)
            ?? throw new JsonException($"The gateway answered {(int)message.StatusCode} with an empty body.");
        result.Response = InfoOf(message, response.IdempotencyKey);
        return result;
    }

    private async Task<List<T>> SendListAsync<T>(Call call, CancellationToken ct)
    {
        using var response = await SendRawAsync(call, ct);
        await EnsureSuccessAsync(response.Message, null, ct);
        using var doc = JsonDocument.Parse(await response.Message.Content.ReadAsStringAsync(ct));
        // The OpenAPI document fixes every list as an object with "data" (ListEndpointsResponse here; EventList, with
        // has_more, is read as EventPage), so more members can be added later without breaking this client.
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("data", out var data)
               && data.ValueKind == JsonValueKind.Array
            ? data.Deserialize<List<T>>(ReadOptions) ?? []
            : throw new JsonException("The gateway's list answer has no \"data\" array.");
    }

    private static ResponseInfo InfoOf(HttpResponseMessage message, string? idempotencyKey) => new()
    {
        RequestId = Header(message, "Request-Id"),
        IdempotentReplayed = string.Equals(Header(message, "Idempotent-Replayed"), "true", StringComparison.OrdinalIgnoreCase),
        ETag = message.Headers.ETag?.ToString() ?? Header(message, "ETag"),
        IdempotencyKey = idempotencyKey,
    };

    private static string? Header(HttpResponseMessage message, string name) =>
        message.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static async Task EnsureSuccessAsync(HttpResponseMessage message, string? idempotencyKey, CancellationToken ct)
    {
        if (message.IsSuccessStatusCode)
        {
            return;
        }
        var body = await message.Content.ReadAsStringAsync(ct);
        throw PaymentsApiException.Create(ApiProblem.Parse(message.StatusCode, body, message.Headers), idempotencyKey);
    }

    /// <summary>A new idempotency key: a random, time-ordered UUID.</summary>
    internal static string NewIdempotencyKey() => Guid.CreateVersion7().ToString();

    private async Task<SentCall> SendRawAsync(Call call, CancellationToken ct)
    {
        var idempotencyKey = call.Idempotent ? call.Options?.IdempotencyKey ?? NewIdempotencyKey() : null;
        var payload = call.Body is null ? null : JsonSerializer.SerializeToUtf8Bytes(call.Body, call.Body.GetType(), WriteOptions);
        // Safe to repeat: a read, a call the gateway deduplicates by key, or one without side effects.
        var retryable = call.Method == HttpMethod.Get || idempotencyKey is not null || call.RetrySafe;
        var uri = call.Absolute ?? new Uri(baseAddress, call.Path);
        var attempt = 0;
        var reauthenticated = false;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            using var request = new HttpRequestMessage(call.Method, uri);
            if (payload is not null)
            {
                request.Content = new ByteArrayContent(payload);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (idempotencyKey is not null)
            {
                request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
            }
            if (call.Options?.IfMatch is { } ifMatch)
            {
                request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
            }
            string? bearer = null;
            if (call.Authenticated)
            {
                bearer = await GetAccessTokenAsync(ct);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            }

            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            }
            catch (HttpRequestException) when (retryable && attempt < options.MaxRetries)
            {
                await DelayAsync(attempt++, null, ct);
                continue;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested && retryable && attempt < options.MaxRetries)
            {
                // HttpClient.Timeout elapsed: the gateway may or may not have acted; the key makes repeating safe.
                await DelayAsync(attempt++, null, ct);
                continue;
            }

            if (response.StatusCode == HttpStatusCode.Unauthorized && call.Authenticated && !reauthenticated)
            {
                // Expired or revoked token: a 401 changed nothing, so one retry with a fresh token is safe.
                response.Dispose();
                Interlocked.CompareExchange(ref token, null, token?.Value == bearer ? token : null);
                reauthenticated = true;
                continue;
            }
            if (retryable && attempt < options.MaxRetries && await IsTransientAsync(response, call, ct))
            {
                var retryAfter = ApiProblem.RetryAfterOf(response.Headers);
                response.Dispose();
                await DelayAsync(attempt++, retryAfter, ct);
                continue;
            }
            return new SentCall(response, idempotencyKey);
        }
    }

    private static async Task<bool> IsTransientAsync(HttpResponseMessage response, Call call, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        if (status == 429)
        {
            return call.RetryOnRateLimit;
        }
        if (status >= 500)
        {
            return true;
        }
        if (status == 409 && call.Idempotent)
        {
            // A 409 with Retry-After is for now and left the key free: the key's first request is still running, or
            // another request is confirming the payment intent (ADR 135). Any other 409 is final.
            if (ApiProblem.RetryAfterOf(response.Headers) is not null)
            {
                return true;
            }
            var body = await response.Content.ReadAsStringAsync(ct);
            return ApiProblem.Parse(response.StatusCode, body).Code == "idempotency_request_in_progress";
        }
        return false;
    }

    private Task DelayAsync(int attempt, TimeSpan? retryAfter, CancellationToken ct)
    {
        TimeSpan delay;
        if (retryAfter is { } ra)
        {
            // Jitter on top of the gateway's delay, so clients refused together do not come back together.
            delay = ra + TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Math.Min(1000, ra.TotalMilliseconds / 4 + 100));
        }
        else
        {
            var backoff = options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, attempt);
            delay = TimeSpan.FromMilliseconds(backoff / 2 + Random.Shared.NextDouble() * backoff / 2);
        }
        if (delay > options.MaxRetryDelay)
        {
            delay = options.MaxRetryDelay;
        }
        return delay <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(delay, options.TimeProvider, ct);
    }

    private sealed record CachedToken(string Value, DateTimeOffset RenewAt);

    private sealed record TransactionOperationBody(string Operation, long? Amount);

    private sealed record CardSubmission(string ClientSecret, string Number, int ExpMonth, int ExpYear, string Cvc, string? HolderName)
    {
        public override string ToString() => "card submission";
    }

    private sealed class Call
    {
        public Call(HttpMethod method, string path)
        {
            Method = method;
            Path = path;
        }

        public Call(HttpMethod method, Uri absolute)
        {
            Method = method;
            Path = absolute.ToString();
            Absolute = absolute;
        }

        public HttpMethod Method { get; }
        public string Path { get; }
        public Uri? Absolute { get; }
        public object? Body { get; init; }
        public bool Authenticated { get; init; } = true;
        public bool Idempotent { get; init; }
        public bool RetrySafe { get; init; }
        public bool RetryOnRateLimit { get; init; } = true;
        public RequestOptions? Options { get; init; }
    }

    private readonly record struct SentCall(HttpResponseMessage Message, string? IdempotencyKey) : IDisposable
    {
        public void Dispose() => Message.Dispose();
    }
}
