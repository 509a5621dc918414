namespace Payments.Transactions;

/// <summary>Settings under <c>Transactions</c>.</summary>
public sealed class TransactionsOptions
{
    public const string Section = "Transactions";

    /// <summary>How long an authorization holds before its remaining amount is released (contract: 7 days).</summary>
    public TimeSpan AuthorizationWindow { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// The most new payments one commit writes (docs/adr/0036): once <see cref="GroupCommitsInFlight"/> commits run,
    /// the next free one takes whatever queued meanwhile, up to this many. 1 writes each payment alone.
    /// </summary>
    public int PaymentGroupMax { get; set; } = 64;

    /// <summary>The most captures and voids one commit writes (docs/adr/0036); 1 writes each alone.</summary>
    public int CaptureGroupMax { get; set; } = 64;

    /// <summary>
    /// Commits each group-commit writer keeps running at once (docs/adr/0036): while fewer run, a change is written at
    /// once; once this many run, the changes that arrive form the next group.
    /// </summary>
    public int GroupCommitsInFlight { get; set; } = 4;

    /// <summary>How often the expiry sweep runs.</summary>
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the list counters' pending deltas are counted, to fold them (totals are exact either way).</summary>
    public TimeSpan ListCountFoldInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Deltas folded into the totals only once this many wait: the list's total reads at most about this many (a few
    /// milliseconds), and a gateway with little traffic never rewrites its counters in the background.
    /// </summary>
    public int ListCountFoldThreshold { get; set; } = 10_000;

    /// <summary>Time of day (UTC) of the daily settlement run.</summary>
    public TimeSpan SettlementTimeOfDayUtc { get; set; } = TimeSpan.Zero;

    /// <summary>False to run no scheduled settlement (the sandbox route still works).</summary>
    public bool ScheduledSettlement { get; set; } = true;

    /// <summary>How often the outbox relay looks for events left behind (it is also kicked after every commit).</summary>
    public TimeSpan OutboxPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the relay, once kicked, lets further commits gather before it leases: one lease, one commit per module
    /// and one mark then carry all of them (zero: lease at once). Events reach the modules this much later.
    /// </summary>
    public TimeSpan OutboxGatherWindow { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// How long one module may take over a relay batch before the call is cut off and counted as that module's failure.
    /// At most 25 s: the relay starts no call past half of its 60-second lease, so no call outlives the lease.
    /// </summary>
    public TimeSpan OutboxHandlerTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long delivered outbox rows are kept (for diagnosis; the webhook event log is the record merchants read)
    /// before the expiry sweep deletes them.
    /// </summary>
    public TimeSpan OutboxRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Confirmation or reversal of the Vault's approvals (docs/adr/0133).</summary>
    public ApprovalReconciliationOptions ApprovalReconciliation { get; set; } = new();
}

/// <summary>Settings under <c>Transactions:ApprovalReconciliation</c>.</summary>
public sealed class ApprovalReconciliationOptions
{
    /// <summary>
    /// An approval is looked at once it was last given out this long ago: far beyond any request that could still be
    /// booking it.
    /// </summary>
    public TimeSpan ConfirmAfter { get; set; } = TimeSpan.FromMinutes(10);

    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    public int BatchSize { get; set; } = 200;

    public bool Enabled { get; set; } = true;
}
