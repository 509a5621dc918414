namespace Payments.Transactions.Contracts;

/// <summary>Whether a payment intent was paid, for the Intents module deciding whether it may still be canceled.</summary>
public interface IPaymentIntentPayments
{
    /// <summary>True when a payment of the intent exists that was not declined.</summary>
    Task<bool> HasLivePaymentAsync(string merchantId, string intentId, CancellationToken ct);
}
