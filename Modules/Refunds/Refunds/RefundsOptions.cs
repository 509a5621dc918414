namespace Payments.Refunds;

/// <summary>Settings under <c>Refunds</c>.</summary>
internal sealed class RefundsOptions
{
    public const string Section = "Refunds";

    /// <summary>
    /// How long a refund whose answer depends on refunds in flight waits for them (docs/adr/0082); after that, those
    /// still in flight count as made. Longer than an acquirer call (<c>Vault:TimeoutSeconds</c>, 5 s).
    /// </summary>
    public TimeSpan InFlightWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The sweep that resolves reservations left pending (a Host died between reserving and booking).</summary>
    public RefundRecoveryOptions Recovery { get; set; } = new();
}

/// <summary>Settings under <c>Refunds:Recovery</c>.</summary>
internal sealed class RefundRecoveryOptions
{
    /// <summary>
    /// A reservation is resolved once this old, and looked at again this long after each try: far beyond any request
    /// that could still be booking it (the idempotency lease is 60 s, an acquirer call 5 s).
    /// </summary>
    public TimeSpan ResolveAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Older reservations are not asked about any more: the Vault keeps an attempt's answer for
    /// <c>Vault:AttemptKeyRetention</c> (8 days) only, and asked after that it would refund afresh. They stay held,
    /// logged Critical, for an operator. Keep it below the Vault's retention.
    /// </summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromDays(7);

    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    public int BatchSize { get; set; } = 100;

    public bool Enabled { get; set; } = true;
}
