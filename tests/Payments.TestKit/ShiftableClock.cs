namespace Payments.TestKit;

/// <summary>
/// The system clock moved by an offset the test controls: time still flows (IDs stay ordered), and a test can jump
/// days ahead to reach an expiry or a settlement hour. Timers run on real time.
/// </summary>
public sealed class ShiftableClock : TimeProvider
{
    private long offsetTicks;

    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
}
