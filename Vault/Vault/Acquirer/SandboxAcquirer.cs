using System.Security.Cryptography;

namespace Payments.Vault.Acquirer;

/// <summary>The sandbox acquirer of the contract: it decides by card number, and declines a card past its expiry.</summary>
internal static class SandboxAcquirer
{
    public static (bool Approved, string? AuthorizationCode, string? DeclineCode) Authorize(string number, int expMonth, int expYear, DateTimeOffset now)
    {
        var decline = number switch
        {
            "4000000000000002" => "card_declined",
            "4000000000009995" => "insufficient_funds",
            "4000000000000069" => "expired_card",
            "4000000000000119" => "processing_error",
            _ when expYear * 12 + expMonth < now.Year * 12 + now.Month => "expired_card",
            _ => null,
        };
        return decline is null ? (true, NewCode(), null) : (false, null, decline);
    }

    /// <summary>Refunds to a stored card are accepted; the decline cards refuse payments, not refunds.</summary>
    public static (bool Approved, string? AuthorizationCode, string? DeclineCode) Refund() => (true, NewCode(), null);

    /// <summary>
    /// Releases an authorization (or takes back an authcap) the merchant's system never booked, by its authorization
    /// code; the sandbox accepts every reversal.
    /// </summary>
    public static bool Reverse(string authorizationCode) => authorizationCode.Length > 0;

    private static string NewCode()
    {
        const string chars = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
        Span<char> code = stackalloc char[6];
        for (var i = 0; i < code.Length; i++)
        {
            code[i] = chars[RandomNumberGenerator.GetInt32(chars.Length)];
        }
        return new string(code);
    }
}
