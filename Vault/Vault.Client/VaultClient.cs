using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Observability;
using Payments.Vault.Contracts;

namespace Payments.Vault.Client;

/// <summary>
/// <see cref="IVaultClient"/> over HTTP: every call signed for its merchant, bounded by <c>Vault:TimeoutSeconds</c>.
/// A Vault that does not answer in time, cannot be reached or fails answers <see cref="VaultUnavailableException"/>.
/// </summary>
/// <remarks>
/// Every answer must carry the Vault's signature bound to its call (<see cref="ResponseSignature"/>); an answer
/// without it, or with a wrong one, came from something that is not the Vault and is treated as the Vault being
/// unavailable: nothing it says (an <c>approved</c>, say) is acted on.
/// </remarks>
internal sealed class VaultClient(IHttpClientFactory factory, ServiceTokenSigner signer, IHttpContextAccessor? httpContext = null)
    : IVaultClient, IVaultTokenizationFeed, IVaultApprovals
{
    public async Task RegisterTokenizationIntentAsync(string merchantId, TokenizationIntentRegistration intent, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Put, merchantId, $"internal/v1/tokenization-intents/{Esc(intent.IntentId)}", intent, ct);
        await EnsureAsync(response, ct);
    }

    public async Task<TokenizationIntentState?> GetTokenizationIntentAsync(string merchantId, string intentId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, merchantId, $"internal/v1/tokenization-intents/{Esc(intentId)}", null, ct);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync<TokenizationIntentState>(response, ct);
    }

    public async Task<CardDisplay?> GetCardAsync(string merchantId, string cardToken, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, merchantId, $"internal/v1/cards/{Esc(cardToken)}", null, ct);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync<CardDisplay>(response, ct);
    }

    public async Task<bool> DeleteCardAsync(string merchantId, string cardToken, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Delete, merchantId, $"internal/v1/cards/{Esc(cardToken)}", null, ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        await EnsureAsync(response, ct);
        return true;
    }

    public Task<AcquirerOutcome> AuthorizeAsync(string merchantId, AcquirerRequest request, CancellationToken ct) =>
        UseCardAsync(merchantId, "internal/v1/acquirer/authorize", request, ct);

    public Task<AcquirerOutcome> RefundAsync(string merchantId, AcquirerRequest request, CancellationToken ct) =>
        UseCardAsync(merchantId, "internal/v1/acquirer/refund", request, ct);

    public async Task<IReadOnlyList<TokenizationIntentSuccess>> ListSucceededTokenizationIntentsAsync(long afterSequence, int limit, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, "",
            $"internal/v1/tokenization-intents-succeeded?after={afterSequence}&limit={limit}", null, ct);
        return await ReadAsync<List<TokenizationIntentSuccess>>(response, ct);
    }

    public async Task<IReadOnlyList<OpenApproval>> ListOpenApprovalsAsync(TimeSpan olderThan, int limit, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, "",
            $"internal/v1/approvals/open?olderThanSeconds={(long)olderThan.TotalSeconds}&limit={limit}", null, ct);
        return await ReadAsync<List<OpenApproval>>(response, ct);
    }

    public async Task<bool> HoldApprovalAsync(long approvalId, IReadOnlyList<string> checkedReferences, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, "", $"internal/v1/approvals/{approvalId}/hold",
            new ApprovalHold(checkedReferences), ct);
        return (await ReadAsync<ApprovalDecision>(response, ct)).Held;
    }

    public async Task<bool> ConfirmApprovalAsync(long approvalId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, "", $"internal/v1/approvals/{approvalId}/confirm", null, ct);
        return (await ReadAsync<ApprovalDecision>(response, ct)).Confirmed;
    }

    public async Task<ReversalOutcome?> ReverseApprovalAsync(long approvalId, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Post, "", $"internal/v1/approvals/{approvalId}/reverse", null, ct);
        return response.StatusCode == HttpStatusCode.Conflict ? null : await ReadAsync<ReversalOutcome>(response, ct);
    }

    private sealed record ApprovalDecision(bool Held, bool Confirmed);

    private async Task<AcquirerOutcome> UseCardAsync(string merchantId, string path, AcquirerRequest request, CancellationToken ct)
    {
        // A token the Vault cannot hold is unknown: no call needed, and nothing odd reaches the Vault's logs.
        if (!CardTokens.IsWellFormed(request.CardToken))
        {
            return new AcquirerOutcome(false, false, null, null, null, null);
        }
        using var response = await SendAsync(HttpMethod.Post, merchantId, path, request, ct);
        return await ReadAsync<AcquirerOutcome>(response, ct);
    }

    private static string Esc(string segment) => Uri.EscapeDataString(segment);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string merchantId, string relative, object? body, CancellationToken ct)
    {
        var http = factory.CreateClient(VaultClientSetup.HttpClientName);
        var uri = new Uri(http.BaseAddress ?? throw new InvalidOperationException("Vault:BaseUrl is not set."), relative);
        var bytes = body is null ? [] : JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), PaymentsJson.Options);
        using var request = new HttpRequestMessage(method, uri);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(bytes);
            request.Content.Headers.ContentType = new("application/json");
        }
        // The Host's request id (RequestIdMiddleware sets it as the trace identifier); none for background work.
        var requestId = httpContext?.HttpContext?.TraceIdentifier;
        request.Headers.TryAddWithoutValidation("Authorization", signer.Sign(merchantId, method.Method, uri.PathAndQuery, bytes, requestId, out var jti));
        var operation = OperationOf(method, relative);
        using var span = GatewayInstruments.VaultCalls.StartActivity("vault " + operation, ActivityKind.Internal);
        var started = Stopwatch.GetTimestamp();
        var outcome = "unavailable";
        HttpResponseMessage? response = null;
        try
        {
            response = await http.SendAsync(request, ct);
            await response.Content.LoadIntoBufferAsync(ct);
            var answer = await response.Content.ReadAsByteArrayAsync(ct);
            var signature = response.Headers.TryGetValues(ResponseSignature.HeaderName, out var values) ? values.FirstOrDefault() : null;
            var status = (int)response.StatusCode;
            if (!ResponseSignature.Verify(signer.ResponseKey, jti, status, answer, signature))
            {
                response.Dispose();
                throw new VaultUnavailableException(status == 401
                    ? "The Vault refused the Host's signature: check Vault:ServiceKey on both sides."
                    : $"An answer to a Vault call ({status}) is not signed by the Vault; it is ignored.");
            }
            outcome = status is < 400 or 404 ? "ok" : status is 401 or >= 500 ? "unavailable" : "refused";
            return response;
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            response?.Dispose();
            span.Fail(e);
            throw new VaultUnavailableException("The Vault did not answer in time.", e);
        }
        catch (HttpRequestException e)
        {
            response?.Dispose();
            span.Fail(e);
            // A request is written only on an established connection: one that could not be made sent nothing.
            throw new VaultUnavailableException("The Vault could not be reached.", e)
            {
                NotDelivered = e.HttpRequestError == HttpRequestError.ConnectionError,
            };
        }
        finally
        {
            span?.SetTag("payments.vault.outcome", outcome);
            GatewayInstruments.VaultCallDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    /// <summary>A bounded name for a call (<c>POST acquirer/authorize</c>, <c>GET cards</c>): ids and queries left out.</summary>
    internal static string OperationOf(HttpMethod method, string relative)
    {
        var path = relative.Split('?', 2)[0].Split('/', StringSplitOptions.RemoveEmptyEntries)
            .Where(s => s is not ("internal" or "v1") && s.All(c => c is (>= 'a' and <= 'z') or '-'));
        return method.Method + " " + string.Join('/', path);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            var retry = response.Headers.RetryAfter?.Delta is { } d ? (int)Math.Ceiling(d.TotalSeconds) : 60;
            throw new ProblemException(429, ErrorCodes.RateLimited, "Too many card operations; try again later.") { RetryAfterSeconds = retry };
        }
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            throw new VaultUnavailableException("The Vault refused the Host's signature: check Vault:ServiceKey on both sides.");
        }
        if ((int)response.StatusCode >= 500)
        {
            throw new VaultUnavailableException($"The Vault answered {(int)response.StatusCode}.");
        }
        var text = await response.Content.ReadAsStringAsync(ct);
        // Attempt keys (ADR 25); in both cases nothing was sent to the acquirer.
        if (response.StatusCode == HttpStatusCode.Conflict && text.Contains("\"attempt_key_reused\"", StringComparison.Ordinal))
        {
            // The key's first try reached the acquirer with another amount, card or operation (a full refund retried
            // after another refund changed what is left, say).
            throw new ProblemException(422, ErrorCodes.IdempotencyKeyReused,
                "This Idempotency-Key's first try reached the acquirer with a different request; send this one with a new key.");
        }
        if (response.StatusCode == HttpStatusCode.Conflict && text.Contains("\"attempt_in_progress\"", StringComparison.Ordinal))
        {
            // An earlier try of this Idempotency-Key is still with the acquirer (this one's Host gave up waiting on it).
            throw new ProblemException(409, ErrorCodes.IdempotencyRequestInProgress,
                "A request with this Idempotency-Key is still being processed.") { RetryAfterSeconds = 1 };
        }
        throw new InvalidOperationException($"The Vault refused a call: {(int)response.StatusCode} {text}");
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        await EnsureAsync(response, ct);
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(PaymentsJson.Options, ct)
                   ?? throw new VaultUnavailableException("The Vault answered an empty body.");
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new VaultUnavailableException("The Vault did not answer in time.", e);
        }
    }
}

/// <summary>The shape of card tokens: <c>tok_</c> + 26 Crockford base32 characters (128 random bits).</summary>
public static class CardTokens
{
    public static bool IsWellFormed(string? token) => Payments.BuildingBlocks.Ids.PrefixedId.IsValid("tok", token);
}
