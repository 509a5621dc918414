namespace Payments.BuildingBlocks.Idempotency;

/// <summary>
/// Set in <c>HttpContext.Features</c> by a slice whose answer shows a secret once: the body kept in clear for replays
/// of its <c>Idempotency-Key</c>, without the secret, in the Redis cache as in PostgreSQL. The answer as sent is kept
/// beside it sealed (<see cref="AnswerSeal"/>), and that is what a replay answers.
/// </summary>
public sealed record IdempotentReplayBody(byte[] Body);
