namespace Payments.IntegrationTests.Auth;

/// <summary>A clock the test moves: expiry, not-before, grace periods and rate-limit windows without sleeping.</summary>
public sealed class ManualClock : TimeProvider
{
    private readonly DateTimeOffset start = DateTimeOffset.UtcNow;
    private TimeSpan offset;

    public override DateTimeOffset GetUtcNow() => start + offset + (DateTimeOffset.UtcNow - start);

    public void Advance(TimeSpan by) => offset += by;

    public void Reset() => offset = TimeSpan.Zero;
}
