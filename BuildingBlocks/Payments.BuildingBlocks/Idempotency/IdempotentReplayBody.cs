namespace Payments.BuildingBlocks.Idempotency;

/// <summary>
/// Set in <c>HttpContext.Features</c> by a slice whose answer must not be stored as sent (a secret shown once): the
/// body kept for replays of its <c>Idempotency-Key</c>, in the Redis cache as in PostgreSQL.
/// </summary>
public sealed record IdempotentReplayBody(byte[] Body);
