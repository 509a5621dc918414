using System.Text.RegularExpressions;
using Payments.BuildingBlocks.CardData;

namespace Payments.BuildingBlocks.Logging;

/// <summary>
/// The redaction policy of every log line the gateway writes: card numbers, CVCs, secrets, bearer and JSON
/// web tokens are replaced before the line leaves the process, whatever the code that logged them meant.
/// </summary>
public static partial class LogRedactor
{
    [GeneratedRegex(@"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex Jwt();

    [GeneratedRegex(@"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex AuthorizationValue();

    // "client_secret": "…", cvc=123, password: x, service key …: the value goes, the name stays.
    [GeneratedRegex(@"(?i)(""?(?:client_secret|secret|cvc|cvv|password|api_key|service_key|kek|number|card_number|pan)""?\s*[:=]\s*)(""[^""]*""|[^\s,;&}]+)",
        RegexOptions.CultureInvariant, 1000)]
    private static partial Regex SecretField();

    public static string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }
        var s = CardNumberDetector.Redact(text);
        s = Jwt().Replace(s, "[REDACTED JWT]");
        s = AuthorizationValue().Replace(s, "$1 [REDACTED]");
        s = SecretField().Replace(s, "$1[REDACTED]");
        return s;
    }
}
