using Microsoft.Net.Http.Headers;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Observability;

namespace Payments.Host.Pipeline;

/// <summary>
/// The <c>Idempotency-Key</c> rules of the contract for every route marked <see cref="IdempotentAttribute"/>.
/// Runs after authentication (keys are per merchant) and before everything else, validation included.
/// A slice that changes state stores its answer in its own transaction (<see cref="IdempotencyClaim"/>);
/// refusals that changed nothing are stored here afterwards; 400, 401, 429 and 5xx free the key.
/// </summary>
internal sealed class IdempotencyMiddleware(RequestDelegate next, IdempotencyStore store, AnswerSeal seal, ILogger<IdempotencyMiddleware> logger)
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    private static readonly string[] KeptHeaders = ["ETag", "Location"];

    public async Task InvokeAsync(HttpContext http)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<IdempotentAttribute>() is null ||
            !http.Request.Headers.TryGetValue(HeaderName, out var values))
        {
            await next(http);
            return;
        }
        var merchant = http.RequestServices.GetService<ICurrentMerchant>();
        if (merchant is not { IsAuthenticated: true })
        {
            await next(http); // the route refuses it (401) before this matters
            return;
        }
        var key = values.ToString();
        if (values.Count != 1 || key.Length is < 1 or > 255 || !key.All(c => c is >= ' ' and <= '~'))
        {
            await Problems.WriteAsync(http, 400, ErrorCodes.ValidationFailed,
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                new Dictionary<string, string[]> { [HeaderName] = ["Must be 1 to 255 printable ASCII characters."] });
            return;
        }

        http.Request.EnableBuffering();
        using var bodyCopy = new MemoryStream();
        await http.Request.Body.CopyToAsync(bodyCopy, http.RequestAborted);
        http.Request.Body.Position = 0;
        var fingerprint = IdempotencyStore.Fingerprint(http.Request.Method,
            http.Request.PathBase.Add(http.Request.Path).Value ?? "", bodyCopy.GetBuffer().AsSpan(0, (int)bodyCopy.Length));

        for (var attempt = 0; ; attempt++)
        {
            ClaimOutcome outcome;
            using (var span = GatewayInstruments.Idempotency.StartActivity("idempotency claim"))
            {
                outcome = await store.ClaimAsync(merchant.Id, key, fingerprint, http.RequestAborted);
                span?.SetTag("payments.idempotency.outcome", OutcomeName(outcome));
            }
            switch (outcome)
            {
                case ClaimOutcome.Mismatch:
                    GatewayInstruments.IdempotencyConflicts.Add(1, new KeyValuePair<string, object?>("reason", "mismatch"));
                    await Problems.WriteAsync(http, 422, ErrorCodes.IdempotencyKeyReused,
                        "This Idempotency-Key was used with a different request.");
                    return;
                case ClaimOutcome.InProgress:
                    GatewayInstruments.IdempotencyConflicts.Add(1, new KeyValuePair<string, object?>("reason", "in_progress"));
                    await Problems.WriteAsync(http, 409, ErrorCodes.IdempotencyRequestInProgress,
                        "A request with this Idempotency-Key is still being processed.", retryAfterSeconds: 1);
                    return;
                case ClaimOutcome.Replay replay:
                    GatewayInstruments.IdempotencyReplays.Add(1);
                    await WriteReplayAsync(http, replay.Response, merchant.Id, key);
                    return;
                case ClaimOutcome.Claimed claimed:
                    if (await RunClaimedAsync(http, claimed.Claim) || attempt >= 2)
                    {
                        return;
                    }
                    // The claim was lost to another request while this one ran: answer as that one did.
                    http.Request.Body.Position = 0;
                    break;
            }
        }
    }

    /// <summary>Runs the route holding the claim. False when the claim was lost and the answer must be looked up again.</summary>
    private async Task<bool> RunClaimedAsync(HttpContext http, IdempotencyClaim claim)
    {
        http.Features.Set(claim);
        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            try
            {
                await next(http);
            }
            catch (ProblemException p)
            {
                // A slice's refusal is a final answer: write it here so it can be stored.
                await Problems.WriteAsync(http, p);
            }
            catch (Exception e) when (IdempotencyClaim.IsLeaseLost(e))
            {
                DropAnswer(http.Response, buffer);
                return false;
            }
            catch
            {
                await ReleaseQuietlyAsync(claim);
                throw;
            }

            var status = http.Response.StatusCode;
            var headers = KeptHeadersOf(http.Response);
            var shownOnce = http.Features.Get<IdempotentReplayBody>();
            if (shownOnce is not null)
            {
                // The answer as sent, sealed: what a replay answers. Only its copy without the secret is in clear.
                headers[AnswerSeal.Entry] = seal.Seal(claim.MerchantId, claim.Key, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            }
            var response = new StoredResponse(status, headers, shownOnce?.Body ?? buffer.ToArray());
            using var span = GatewayInstruments.Idempotency.StartActivity("idempotency complete");
            if (claim.CompletedInTransaction)
            {
                store.CacheCompleted(claim, response);
            }
            else if (IsKept(http.Response))
            {
                if (!await store.CompleteAsync(claim, response, CancellationToken.None))
                {
                    // Another request took the key over meanwhile: this answer is dropped for the key's own.
                    DropAnswer(http.Response, buffer);
                    return false;
                }
            }
            else
            {
                await store.ReleaseAsync(claim, CancellationToken.None);
            }
            return true;
        }
        finally
        {
            http.Response.Body = original;
            if (buffer.Length > 0 && !http.RequestAborted.IsCancellationRequested)
            {
                buffer.Position = 0;
                await buffer.CopyToAsync(original);
            }
        }
    }

    private static string OutcomeName(ClaimOutcome outcome) => outcome switch
    {
        ClaimOutcome.Mismatch => "mismatch",
        ClaimOutcome.InProgress => "in_progress",
        ClaimOutcome.Replay => "replay",
        _ => "claimed",
    };

    /// <summary>
    /// A final answer is kept as the key's answer; a refusal for now is not (a 409 in progress with Retry-After, from
    /// the Vault holding the acquirer attempt, says "try again", and kept it would be replayed to every retry).
    /// </summary>
    private static bool IsKept(HttpResponse response) =>
        response.StatusCode is not (400 or 401 or 429) && response.StatusCode < 500 && !response.Headers.ContainsKey(HeaderNames.RetryAfter);

    private static Dictionary<string, string> KeptHeadersOf(HttpResponse response)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (response.ContentType is { } ct)
        {
            headers["Content-Type"] = ct;
        }
        foreach (var name in KeptHeaders)
        {
            if (response.Headers.TryGetValue(name, out var v))
            {
                headers[name] = v.ToString();
            }
        }
        return headers;
    }

    /// <summary>Forgets an answer the key no longer gives (its lease was lost), so the key's own answer replaces it whole.</summary>
    private static void DropAnswer(HttpResponse response, MemoryStream buffer)
    {
        buffer.SetLength(0);
        response.StatusCode = StatusCodes.Status200OK;
        foreach (var name in KeptHeaders.Append("Retry-After"))
        {
            response.Headers.Remove(name);
        }
    }

    private async Task WriteReplayAsync(HttpContext http, StoredResponse stored, string merchantId, string key)
    {
        http.Response.StatusCode = stored.Status;
        var body = stored.Body;
        foreach (var (name, value) in stored.Headers)
        {
            if (name == AnswerSeal.Entry)
            {
                // An answer that showed a secret once: the first answer whole, as the contract says.
                if (seal.Open(merchantId, key, value) is { } opened)
                {
                    body = opened;
                }
                else
                {
                    logger.LogWarning("A sealed idempotent answer did not open (Idempotency:SecretKey changed?); replayed without its secret");
                }
            }
            else if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                http.Response.ContentType = value;
            }
            else
            {
                http.Response.Headers[name] = value;
            }
        }
        http.Response.Headers[ReplayedHeader] = "true";
        await http.Response.Body.WriteAsync(body);
    }

    private async Task ReleaseQuietlyAsync(IdempotencyClaim claim)
    {
        try
        {
            await store.ReleaseAsync(claim, CancellationToken.None);
        }
        catch (Exception e) when (GatewayExceptionHandler.IsUnavailable(e))
        {
            // The lease runs out on its own; the key is then free for a retry.
            logger.LogWarning("Could not free an idempotency key: {Error}", e.GetType().Name);
        }
    }
}
