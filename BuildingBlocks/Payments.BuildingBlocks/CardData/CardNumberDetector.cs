using System.Text.RegularExpressions;

namespace Payments.BuildingBlocks.CardData;

/// <summary>
/// Finds card numbers in free text, where digits separated by single spaces or hyphens count as one run (the
/// contract's rule), and by single underscores or slashes too: <c>4035_5010_0000_0008</c> is as much a card number,
/// and the contract's list is what must count, not all that may. Not dots: a Unix time with its fraction
/// (<c>1764950305.920118</c>) is 16 digits, Luhn-valid one time in ten. Two rules:
/// <see cref="HoldsCardNumber"/> is the contract's for merchant fields (a whole run of 13–19 digits that passes Luhn);
/// <see cref="ContainsCardNumber"/> and <see cref="Redact"/> also look inside longer runs, for logs, traces and ids,
/// where a false hit costs nothing.
/// </summary>
public static partial class CardNumberDetector
{
    // A run of digits, each optionally followed by one separator before the next digit.
    [GeneratedRegex(@"\d(?:[ _/-]?\d){12,}", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex DigitRun();

    /// <summary>
    /// The refusal rule for merchant fields (<c>card_data_in_field</c>): a run of 13–19 digits that is Luhn-valid as a
    /// whole. Not the windows <see cref="ContainsCardNumber"/> tries: a 16-digit order id that fails Luhn holds a
    /// Luhn-valid 13–15-digit piece two times in three, and a 19-digit one nineteen times in twenty.
    /// </summary>
    public static bool HoldsCardNumber(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        Span<char> digits = stackalloc char[19];
        foreach (Match m in DigitRun().Matches(text))
        {
            var count = 0;
            foreach (var c in m.ValueSpan)
            {
                if (c is >= '0' and <= '9' && ++count <= 19)
                {
                    digits[count - 1] = c;
                }
            }
            if (count <= 19 && Luhn.IsValid(digits[..count]))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Any Luhn-valid 13–19 digits in <paramref name="text"/>, inside longer runs too (for scrubbing).</summary>
    public static bool ContainsCardNumber(string? text) =>
        !string.IsNullOrEmpty(text) && FindCardNumbers(text).Any();

    /// <summary>Spans (index, length) of every card number in <paramref name="text"/>.</summary>
    public static IEnumerable<(int Index, int Length)> FindCardNumbers(string text)
    {
        foreach (Match m in DigitRun().Matches(text))
        {
            var digits = new char[m.Length];
            var count = 0;
            var positions = new List<int>(m.Length);
            for (var i = 0; i < m.Length; i++)
            {
                var c = m.Value[i];
                if (c is >= '0' and <= '9')
                {
                    digits[count++] = c;
                    positions.Add(m.Index + i);
                }
            }
            // Any window of 13–19 consecutive digits inside a longer run may be a card number.
            var found = false;
            for (var len = Math.Min(19, count); len >= 13 && !found; len--)
            {
                for (var start = 0; start + len <= count; start++)
                {
                    if (Luhn.IsValid(digits.AsSpan(start, len)))
                    {
                        var from = positions[start];
                        var to = positions[start + len - 1];
                        yield return (from, to - from + 1);
                        found = true;
                        break;
                    }
                }
            }
        }
    }

    /// <summary>Replaces every card number with <c>[REDACTED PAN]</c>.</summary>
    public static string Redact(string text)
    {
        var hits = FindCardNumbers(text).ToList();
        if (hits.Count == 0)
        {
            return text;
        }
        var sb = new System.Text.StringBuilder(text.Length);
        var last = 0;
        foreach (var (index, length) in hits)
        {
            sb.Append(text, last, index - last).Append("[REDACTED PAN]");
            last = index + length;
        }
        return sb.Append(text, last, text.Length - last).ToString();
    }
}

/// <summary>The one Luhn check of the codebase (ADR 0002: two checks that disagree are a security bug).</summary>
public static class Luhn
{
    public static bool IsValid(ReadOnlySpan<char> digits)
    {
        var sum = 0;
        var dbl = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var c = digits[i];
            if (c is < '0' or > '9')
            {
                return false;
            }
            var d = c - '0';
            if (dbl)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }
            sum += d;
            dbl = !dbl;
        }
        return digits.Length > 0 && sum % 10 == 0;
    }
}
