namespace Payments.Transactions.Data;

internal static class ClockExtensions
{
    /// <summary>Now, at PostgreSQL's precision (microseconds), so what is hashed is exactly what is stored.</summary>
    public static DateTimeOffset UtcNowMicros(this TimeProvider clock) => Truncate(clock.GetUtcNow());

    public static DateTimeOffset Truncate(DateTimeOffset t) =>
        new(t.UtcTicks - (t.UtcTicks % 10), TimeSpan.Zero);
}
