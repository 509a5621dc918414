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
