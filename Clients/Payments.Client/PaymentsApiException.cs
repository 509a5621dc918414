namespace Payments.Client;

/// <summary>
/// The gateway answered with an RFC 9457 problem. <see cref="Code"/> is the stable machine code to branch on
/// (<c>invalid_state</c>, <c>amount_exceeds_remaining</c>, …); <see cref="RequestId"/> is what support asks for.
/// </summary>
public class PaymentsApiException : Exception
{
    public PaymentsApiException(ApiProblem problem, string? idempotencyKey = null)
        : base(MessageFor(problem))
    {
        Problem = problem;
        IdempotencyKey = idempotencyKey;
    }

    /// <summary>The parsed problem document.</summary>
    public ApiProblem Problem { get; }

    /// <summary>The HTTP status.</summary>
    public int Status => Problem.Status;

    /// <summary>The stable machine code, e.g. <c>amount_exceeds_remaining</c>.</summary>
    public string Code => Problem.Code;

    /// <summary>The human-readable explanation.</summary>
    public string? Detail => Problem.Detail;

    /// <summary>Validation failures keyed by request field (400 only); empty otherwise.</summary>
    public IReadOnlyDictionary<string, string[]> Errors => Problem.Errors;

    /// <summary>The gateway's request id (<c>Request-Id</c> header / <c>request_id</c> field).</summary>
    public string? RequestId => Problem.RequestId;

    /// <summary>How long the gateway asked to wait (<c>Retry-After</c>), when it did.</summary>
    public TimeSpan? RetryAfter => Problem.RetryAfter;

    /// <summary>The <c>Idempotency-Key</c> the failed call carried, if any: reuse it to repeat the same call safely.</summary>
    public string? IdempotencyKey { get; }

    private static string MessageFor(ApiProblem p) =>
        $"{p.Status} {p.Code}: {p.Detail ?? p.Title ?? "request failed"}" + (p.RequestId is null ? "" : $" (request {p.RequestId})");

    internal static PaymentsApiException Create(ApiProblem problem, string? idempotencyKey) => problem.Status switch
    {
        400 => new PaymentsValidationException(problem, idempotencyKey),
        401 => new PaymentsAuthenticationException(problem, idempotencyKey),
        404 => new PaymentsNotFoundException(problem, idempotencyKey),
        409 => new PaymentsConflictException(problem, idempotencyKey),
        412 => new PaymentsPreconditionFailedException(problem, idempotencyKey),
        422 => new PaymentsUnprocessableException(problem, idempotencyKey),
        429 => new PaymentsRateLimitedException(problem, idempotencyKey),
        >= 500 => new PaymentsServerException(problem, idempotencyKey),
        _ => new PaymentsApiException(problem, idempotencyKey),
    };
}

/// <summary>400: the request is malformed; <see cref="PaymentsApiException.Errors"/> says which fields. Nothing changed.</summary>
public sealed class PaymentsValidationException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);

/// <summary>401: wrong client credentials (<c>invalid_client</c>) or a missing, expired or revoked token.</summary>
public sealed class PaymentsAuthenticationException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);

/// <summary>404: unknown, deleted or another merchant's object (<c>not_found</c>).</summary>
public sealed class PaymentsNotFoundException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);

/// <summary>409: the object's state forbids the call (<c>invalid_state</c>, <c>duplicate_external_id</c>, <c>intent_succeeded</c>, …).</summary>
public sealed class PaymentsConflictException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);

/// <summary>412: <c>If-Match</c> no longer matches the payment's ETag.</summary>
public sealed class PaymentsPreconditionFailedException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);

/// <summary>422: the amount is too large (<c>amount_exceeds_remaining</c>, <c>amount_exceeds_refundable</c>) or an idempotency key was reused for another request.</summary>
public sealed class PaymentsUnprocessableException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);

/// <summary>429: too many requests or failed logins; <see cref="PaymentsApiException.RetryAfter"/> says when to come back.</summary>
public sealed class PaymentsRateLimitedException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);

/// <summary>5xx: the gateway could not answer, still after the client's retries. With an idempotency key, repeating is safe.</summary>
public sealed class PaymentsServerException(ApiProblem problem, string? idempotencyKey = null) : PaymentsApiException(problem, idempotencyKey);
