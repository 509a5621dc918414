namespace Payments.BuildingBlocks.Http;

/// <summary>
/// A refusal the merchant must see as an RFC 9457 problem with a stable <see cref="Code"/>.
/// Thrown by a slice, turned into the answer by the Host's exception handler; never logged as an error.
/// </summary>
public sealed class ProblemException(int status, string code, string detail, IReadOnlyDictionary<string, string[]>? errors = null)
    : Exception(detail)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public IReadOnlyDictionary<string, string[]>? Errors { get; } = errors;
    /// <summary>Seconds for a <c>Retry-After</c> header, when the refusal is temporary.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ProblemException NotFound(string what = "The resource") =>
        new(404, ErrorCodes.NotFound, $"{what} was not found.");

    public static ProblemException InvalidState(string detail) => new(409, ErrorCodes.InvalidState, detail);

    /// <summary>
    /// 409 <c>invalid_state</c> for a state another request holds for now (an intent being confirmed): with
    /// <c>Retry-After</c>, so a client tells it from a final refusal, and not stored against an Idempotency-Key.
    /// </summary>
    public static ProblemException Busy(string detail) => new(409, ErrorCodes.InvalidState, detail) { RetryAfterSeconds = 1 };

    public static ProblemException Validation(string field, string message) =>
        new(400, ErrorCodes.ValidationFailed, message, new Dictionary<string, string[]> { [field] = [message] });
}
