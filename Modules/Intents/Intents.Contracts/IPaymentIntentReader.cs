namespace Payments.Intents.Contracts;

/// <summary>Reads a merchant's payment intent, for the Transactions module confirming it.</summary>
public interface IPaymentIntentReader
{
    /// <summary>The intent, or null when it is unknown or another merchant's.</summary>
    Task<PaymentIntentSnapshot?> FindAsync(string merchantId, string intentId, CancellationToken ct);
}

/// <summary>What a confirmation needs of a payment intent.</summary>
public sealed record PaymentIntentSnapshot(
    string Id,
    string Status,
    long Amount,
    string Currency,
    string OrderId,
    string? ExternalId,
    string? CardToken);

/// <summary>The <c>status</c> values of a payment intent.</summary>
public static class PaymentIntentStatuses
{
    public const string RequiresPaymentMethod = "REQUIRES_PAYMENT_METHOD";
    public const string RequiresConfirmation = "REQUIRES_CONFIRMATION";
    public const string Succeeded = "SUCCEEDED";
    public const string Canceled = "CANCELED";
}
