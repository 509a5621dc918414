namespace Payments.Vault.Contracts;

/// <summary>
/// The Host's only way to the Vault. Every call is made for one merchant, signed by the Host's service
/// credential; the Vault answers with outcomes and display data, never with a card number or CVC.
/// </summary>
/// <remarks>
/// Throws <see cref="VaultUnavailableException"/> when the Vault cannot be reached in time, so the Host can
/// answer 503 without changing anything.
/// </remarks>
public interface IVaultClient
{
    /// <summary>Registers a tokenization intent so the Vault's card-entry page and card route accept it.</summary>
    Task RegisterTokenizationIntentAsync(string merchantId, TokenizationIntentRegistration intent, CancellationToken ct);

    /// <summary>The Vault's view of a tokenization intent: whether a card was stored, with its token and display data.</summary>
    Task<TokenizationIntentState?> GetTokenizationIntentAsync(string merchantId, string intentId, CancellationToken ct);

    /// <summary>Display data of a merchant's card token, or null when it is unknown, deleted or another merchant's.</summary>
    Task<CardDisplay?> GetCardAsync(string merchantId, string cardToken, CancellationToken ct);

    /// <summary>Destroys the card data behind a token. False when the token is unknown to this merchant.</summary>
    Task<bool> DeleteCardAsync(string merchantId, string cardToken, CancellationToken ct);

    /// <summary>Asks the acquirer, through the Vault, to authorize (and with <see cref="AcquirerRequest.Capture"/> capture) an amount on a card.</summary>
    Task<AcquirerOutcome> AuthorizeAsync(string merchantId, AcquirerRequest request, CancellationToken ct);

    /// <summary>Asks the acquirer to refund an amount to the card of a captured payment.</summary>
    Task<AcquirerOutcome> RefundAsync(string merchantId, AcquirerRequest request, CancellationToken ct);
}

/// <summary>
/// The Vault's feed of tokenization successes across all merchants, for the Host's Tokenization module (a separate
/// interface so implementations of <see cref="IVaultClient"/> elsewhere need not change).
/// </summary>
public interface IVaultTokenizationFeed
{
    /// <summary>
    /// Every tokenization intent that succeeded after <paramref name="afterSequence"/>, oldest first: lets the Host
    /// record successes (and their events) even when no merchant asks for the intent.
    /// </summary>
    Task<IReadOnlyList<TokenizationIntentSuccess>> ListSucceededTokenizationIntentsAsync(long afterSequence, int limit, CancellationToken ct);
}

/// <param name="Sequence">Increasing in commit order; pass the last one seen as the next <c>afterSequence</c>.</param>
/// <param name="Card">Null when the card was deleted since.</param>
public sealed record TokenizationIntentSuccess(
    long Sequence,
    string MerchantId,
    string IntentId,
    string CardToken,
    CardDisplay? Card,
    DateTimeOffset SucceededAt);

/// <summary>A tokenization intent as the Host created it; the Vault keeps only a hash of the client secret.</summary>
/// <summary>
/// A tokenization intent as the Host created it. <paramref name="Metadata"/> and <paramref name="CreatedAt"/> are only
/// echoed: the Vault's answer to a card is the intent as the Host shows it.
/// </summary>
public sealed record TokenizationIntentRegistration(
    string IntentId,
    string ClientSecretSha256,
    DateTimeOffset ExpiresAt,
    string? ReturnUrl,
    IReadOnlyDictionary<string, string>? Metadata = null,
    DateTimeOffset? CreatedAt = null);

/// <summary>Status values: <c>REQUIRES_CARD</c>, <c>SUCCEEDED</c>, <c>EXPIRED</c>, <c>FAILED</c>.</summary>
public sealed record TokenizationIntentState(
    string IntentId,
    string Status,
    string? CardToken,
    CardDisplay? Card,
    int FailedAttempts);

/// <summary>What may be shown of a card: never the number.</summary>
public sealed record CardDisplay(
    string Brand,
    string Last4,
    int ExpMonth,
    int ExpYear,
    string Fingerprint);

/// <param name="Reference">The Host's id of the operation (a <c>trx_…</c>), for the Vault's audit trail and the acquirer.</param>
/// <param name="Capture">For authorizations: capture at once (authcap).</param>
/// <param name="AttemptKey">
/// The same on every retry of one merchant request (derived from its <c>Idempotency-Key</c>): the Vault answers a key
/// it has already answered with that first answer, without asking the acquirer again, so a retry after the Host failed
/// to record an approval does not authorize the card twice. Null: every call reaches the acquirer.
/// </param>
public sealed record AcquirerRequest(
    string CardToken,
    long Amount,
    string Currency,
    string Reference,
    bool Capture = false,
    string? AttemptKey = null);

/// <param name="CardFound">False when the token is unknown, deleted or another merchant's: nothing was sent to the acquirer.</param>
/// <param name="AnsweredAt">
/// When the acquirer gave this answer, if earlier than this call (a repeated <see cref="AcquirerRequest.AttemptKey"/>):
/// an authorization's window counts from it. Null: answered now.
/// </param>
public sealed record AcquirerOutcome(
    bool CardFound,
    bool Approved,
    string? AuthorizationCode,
    string? DeclineCode,
    string? Brand,
    string? Last4,
    DateTimeOffset? AnsweredAt = null);

/// <summary>
/// The Vault did not answer in time or answered with a server error; nothing may be assumed about the call, unless
/// <see cref="NotDelivered"/>.
/// </summary>
public sealed class VaultUnavailableException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>True when the call certainly never reached the Vault: no connection could be made to it.</summary>
    public bool NotDelivered { get; init; }
}

/// <summary>
/// Approvals the Host may not have booked (docs/adr/0133): the Vault records every approved authorization until the
/// Host confirms it booked it or has it reversed. Only the Host decides, from its own database. A separate interface
/// so implementations of <see cref="IVaultClient"/> elsewhere need not change; service-level calls (no merchant).
/// </summary>
public interface IVaultApprovals
{
    /// <summary>Approvals neither confirmed nor reversed, last given out more than <paramref name="olderThan"/> ago, oldest first.</summary>
    Task<IReadOnlyList<OpenApproval>> ListOpenApprovalsAsync(TimeSpan olderThan, int limit, CancellationToken ct);

    /// <summary>
    /// Holds an approval for reversal if its references are still <paramref name="checkedReferences"/> (the ones the
    /// Host found unbooked): from then on no retry is given it. False when a retry took it in between.
    /// </summary>
    Task<bool> HoldApprovalAsync(long approvalId, IReadOnlyList<string> checkedReferences, CancellationToken ct);

    /// <summary>The Host booked it: it is never reversed. False when it was reversed already.</summary>
    Task<bool> ConfirmApprovalAsync(long approvalId, CancellationToken ct);

    /// <summary>Reverses a held approval at the acquirer, audited. Null when it is not held (confirmed or unknown).</summary>
    Task<ReversalOutcome?> ReverseApprovalAsync(long approvalId, CancellationToken ct);
}

/// <param name="References">The Host's trx ids that were given this approval: the first call's and its retries'.</param>
/// <param name="State"><c>unconfirmed</c>, or <c>reversing</c> when a Host held it and did not finish.</param>
public sealed record OpenApproval(
    long Id,
    string MerchantId,
    IReadOnlyList<string> References,
    string State,
    long Amount,
    string Currency,
    DateTimeOffset ApprovedAt);

public sealed record ReversalOutcome(long ApprovalId, bool Reversed, string AuthorizationCode);

/// <summary>The references the Host checked, for <see cref="IVaultApprovals.HoldApprovalAsync"/>.</summary>
public sealed record ApprovalHold(IReadOnlyList<string> References);
