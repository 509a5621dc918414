namespace Payments.BuildingBlocks.Http;

/// <summary>The stable machine codes of the merchant API's problems. Merchants branch on these: never rename one.</summary>
public static class ErrorCodes
{
    public const string ValidationFailed = "validation_failed";
    public const string CardDataInField = "card_data_in_field";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string PayloadTooLarge = "payload_too_large";
    public const string Unauthorized = "unauthorized";
    public const string InvalidClient = "invalid_client";
    public const string InvalidToken = "invalid_token";
    public const string Forbidden = "forbidden";
    public const string RateLimited = "rate_limited";
    public const string Overloaded = "overloaded";
    public const string InvalidState = "invalid_state";
    public const string AmountExceedsRemaining = "amount_exceeds_remaining";
    public const string AmountExceedsRefundable = "amount_exceeds_refundable";
    public const string AmountExceedsCaptured = "amount_exceeds_captured";
    public const string DuplicateExternalId = "duplicate_external_id";
    public const string PreconditionFailed = "precondition_failed";
    public const string IdempotencyKeyReused = "idempotency_key_reused";
    public const string IdempotencyRequestInProgress = "idempotency_request_in_progress";
    public const string IntentSucceeded = "intent_succeeded";
    public const string IntentExpired = "intent_expired";
    public const string IntentFailed = "intent_failed";
    public const string ServiceUnavailable = "service_unavailable";
    public const string InternalError = "internal_error";

    /// <summary>
    /// Every code with the status it comes with and what it means: the source of the <c>/docs/errors</c> page every
    /// problem's <c>type</c> points at and of the OpenAPI document's list of codes. A new code goes here too
    /// (tests/Payments.OpenApi.Tests fails on a constant missing from this list).
    /// </summary>
    public static IReadOnlyList<ErrorCodeInfo> All { get; } =
    [
        new(ValidationFailed, 400, "The request is not valid: a field is missing, malformed or out of range, or the body is not JSON. `errors` lists the messages by field."),
        new(CardDataInField, 400, "A field other than the Vault's card fields holds what looks like a card number. Card data goes only to the Vault."),
        new(Unauthorized, 401, "No bearer token was sent on a route that needs one."),
        new(InvalidClient, 401, "POST /v1/auth/token: unknown client_id or wrong client_secret (also `error: invalid_client`, as OAuth 2.0 says)."),
        new(InvalidToken, 401, "The bearer token is malformed, expired, revoked, or signed by an unknown key. Get a new one from POST /v1/auth/token."),
        new(Forbidden, 403, "The credentials are valid but may not do this."),
        new(NotFound, 404, "No such object for this merchant (unknown, deleted, or another merchant's), or no such route. Sandbox routes answer it in live mode."),
        new(MethodNotAllowed, 405, "The route exists but not with this HTTP method."),
        new(InvalidState, 409, "The object's state forbids the operation: nothing left to capture or void, nothing captured to refund, an intent already finished or being confirmed by another request, or the merchant already has the most webhook endpoints allowed (16)."),
        new(DuplicateExternalId, 409, "Another payment of this merchant already has this external_id."),
        new(IdempotencyRequestInProgress, 409, "A request with this Idempotency-Key is still running. Retry later with the same key."),
        new(IntentSucceeded, 409, "The tokenization intent already has a card."),
        new(IntentExpired, 409, "The tokenization intent has expired; create a new one."),
        new(IntentFailed, 409, "The tokenization intent failed after too many refused cards; create a new one."),
        new(PreconditionFailed, 412, "The object changed since the ETag given in If-Match. Read it again and decide."),
        new(PayloadTooLarge, 413, "The request body is larger than the route accepts (64 KiB on the merchant API)."),
        new(UnsupportedMediaType, 415, "The body is not sent as application/json."),
        new(AmountExceedsRemaining, 422, "The capture or void amount is more than remains authorized."),
        new(AmountExceedsRefundable, 422, "The refund amount is more than is still refundable on the payment."),
        new(AmountExceedsCaptured, 422, "The chargeback amount is more than was captured and not yet charged back."),
        new(IdempotencyKeyReused, 422, "This Idempotency-Key was used with a different request (another route or body)."),
        new(RateLimited, 429, "Over the merchant's request rate (see the RateLimit and RateLimit-Policy headers), or too many failed logins on the token route. Nothing was changed: wait the seconds in Retry-After and send the same request with the same Idempotency-Key."),
        new(InternalError, 500, "An unexpected error; nothing about it is shown. Retry with the same Idempotency-Key and quote the request_id."),
        new(Overloaded, 503, "The gateway is at capacity and refused the request before doing anything. Wait the seconds in Retry-After (plus a little jitter) and send it again with the same Idempotency-Key."),
        new(ServiceUnavailable, 503, "A dependency is unavailable. Retry after Retry-After with the same Idempotency-Key: it answers with the request's outcome, and nothing happens twice."),
    ];

    /// <summary>The code for a status that no slice gave one to (unknown route, framework refusals).</summary>
    public static string ForStatus(int status) => status switch
    {
        400 => ValidationFailed,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        405 => MethodNotAllowed,
        412 => PreconditionFailed,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        429 => RateLimited,
        503 => ServiceUnavailable,
        _ when status >= 500 => InternalError,
        _ => "http_" + status,
    };
}

/// <summary>One documented error code: the status it comes with and what it means.</summary>
public sealed record ErrorCodeInfo(string Code, int Status, string Description);
