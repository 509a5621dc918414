namespace Payments.Client;

/// <summary>How a <see cref="PaymentsClient"/> reaches the gateway and behaves on failures.</summary>
public sealed class PaymentsClientOptions
{
    /// <summary>
    /// The merchant API's base URL, e.g. <c>https://api.example.com/</c> or <c>https://example.com/payments</c>
    /// (the client adds <c>v1/…</c> after its path, with or without a trailing slash).
    /// </summary>
    public required Uri BaseAddress { get; init; }

    /// <summary>The client_id printed by <c>./run.sh merchant create</c>.</summary>
    public required string ClientId { get; init; }

    /// <summary>The client_secret printed once by <c>./run.sh merchant create</c>. Keep it out of source control.</summary>
    public required string ClientSecret { get; init; }

    /// <summary>How many times a failed call is tried again when that is safe (default 3).</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>The first back-off delay; it doubles on each retry, with jitter (default 200 ms).</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest the client waits between two tries, whatever <c>Retry-After</c> says (default 30 s).</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A token is renewed this long before it expires (default 60 s; at most half its lifetime), so a call never
    /// leaves with a token that runs out on the way.
    /// </summary>
    public TimeSpan TokenRefreshMargin { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The clock for token expiry and back-off; <see cref="TimeProvider.System"/> unless replaced in tests.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>Per-call settings.</summary>
public sealed class RequestOptions
{
    /// <summary>
    /// The <c>Idempotency-Key</c> to send. When null the client makes one per call and reuses it on its own
    /// retries. Pass your own (e.g. derived from your order) to make a call safe to repeat across process restarts.
    /// </summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>An <c>If-Match</c> value (a transaction's <see cref="ResponseInfo.ETag"/>): the call answers 412 if the payment changed since.</summary>
    public string? IfMatch { get; init; }
}
