using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Payments.Client;

/// <summary>Checks the <c>Payments-Signature</c> header of a webhook delivery.</summary>
public static class WebhookSignature
{
    /// <summary>
    /// True when <paramref name="header"/> (<c>t=…,v1=…</c>) is the HMAC-SHA256 of <c>"{t}.{rawBody}"</c> under
    /// <paramref name="secret"/> and <c>t</c> is within <paramref name="tolerance"/> of now (default 5 minutes).
    /// Verify the raw body exactly as received, before parsing it.
    /// </summary>
    public static bool Verify(string? header, string rawBody, string secret, TimeSpan? tolerance = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(rawBody);
        ArgumentNullException.ThrowIfNull(secret);
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }
        long? t = null;
        var signatures = new List<string>();
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }
            var (k, v) = (part[..eq], part[(eq + 1)..]);
            if (k == "t" && long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                t = seconds;
            }
            else if (k == "v1")
            {
                signatures.Add(v);
            }
        }
        if (t is null || signatures.Count == 0)
        {
            return false;
        }
        var now = (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs(now - t.Value) > (tolerance ?? TimeSpan.FromMinutes(5)).TotalSeconds)
        {
            return false;
        }
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret),
            Encoding.UTF8.GetBytes(t.Value.ToString(CultureInfo.InvariantCulture) + "." + rawBody));
        foreach (var s in signatures)
        {
            byte[] given;
            try
            {
                given = Convert.FromHexString(s);
            }
            catch (FormatException)
            {
                continue;
            }
            if (CryptographicOperations.FixedTimeEquals(given, expected))
            {
                return true;
            }
        }
        return false;
    }
}
