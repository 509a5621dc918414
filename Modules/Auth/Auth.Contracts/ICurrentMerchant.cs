namespace Payments.Auth.Contracts;

/// <summary>
/// The merchant on whose behalf the current request runs, read from its verified access token.
/// Slices depend on this and never parse tokens themselves.
/// </summary>
public interface ICurrentMerchant
{
    /// <summary>The <c>mer_…</c> id, or throws when the request is not authenticated.</summary>
    string Id { get; }

    /// <summary>False on anonymous routes (token endpoint, health).</summary>
    bool IsAuthenticated { get; }
}
