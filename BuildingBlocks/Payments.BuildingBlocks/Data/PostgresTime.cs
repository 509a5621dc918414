namespace Payments.BuildingBlocks.Data;

/// <summary>
/// Times at PostgreSQL's precision (microseconds; .NET counts 100 ns ticks), so a time read back equals the one
/// written, and what is hashed or answered is exactly what is stored.
/// </summary>
public static class PostgresTime
{
    public static DateTimeOffset UtcNowMicros(this TimeProvider clock) => Truncate(clock.GetUtcNow());

    public static DateTimeOffset Truncate(DateTimeOffset t) => new(t.UtcTicks - (t.UtcTicks % 10), TimeSpan.Zero);
}
