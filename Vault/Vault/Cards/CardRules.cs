using System.Security.Cryptography;
using Payments.BuildingBlocks.CardData;

namespace Payments.Vault.Cards;

/// <summary>Checks of submitted card data. Messages never contain the value they judge.</summary>
internal static class CardRules
{
    public static bool IsDigits(string s) => s.Length > 0 && s.All(char.IsAsciiDigit);

    public static bool LuhnValid(string digits) => Luhn.IsValid(digits);

    /// <summary>Field → message for every problem, empty when the card may be stored.</summary>
    public static Dictionary<string, string[]> Validate(string? number, int? expMonth, int? expYear, string? cvc, string? holderName, DateTimeOffset now)
    {
        var errors = new Dictionary<string, string[]>();
        if (number is null || !IsDigits(number) || number.Length is < 12 or > 19)
        {
            errors["number"] = ["The card number must be 12 to 19 digits."];
        }
        else if (!LuhnValid(number))
        {
            errors["number"] = ["The card number is not valid."];
        }
        if (expMonth is null or < 1 or > 12)
        {
            errors["exp_month"] = ["The expiry month must be 1 to 12."];
        }
        if (expYear is null or < 1000 or > 9999)
        {
            errors["exp_year"] = ["The expiry year must have four digits."];
        }
        else if (expMonth is >= 1 and <= 12 && (expYear.Value * 12 + expMonth.Value) < (now.Year * 12 + now.Month))
        {
            errors["exp_year"] = ["The card has expired."];
        }
        else if (expYear.Value > now.Year + 50)
        {
            errors["exp_year"] = ["The expiry year is too far in the future."];
        }
        if (cvc is null || !IsDigits(cvc) || cvc.Length is < 3 or > 4)
        {
            errors["cvc"] = ["The CVC must be 3 or 4 digits."];
        }
        if (holderName is not null && (holderName.Length > 200 || holderName.Any(char.IsControl)))
        {
            errors["holder_name"] = ["The holder name must be at most 200 printable characters."];
        }
        return errors;
    }

    public static string BrandOf(string number)
    {
        int Prefix(int n) => int.Parse(number.AsSpan(0, Math.Min(n, number.Length)), provider: System.Globalization.CultureInfo.InvariantCulture);
        if (number.StartsWith('4'))
        {
            return "VISA";
        }
        var p2 = Prefix(2);
        var p3 = Prefix(3);
        var p4 = Prefix(4);
        var p6 = number.Length >= 6 ? Prefix(6) : 0;
        return true switch
        {
            _ when p2 is >= 51 and <= 55 || p6 is >= 222100 and <= 272099 => "MASTERCARD",
            _ when p2 is 34 or 37 => "AMEX",
            _ when p4 == 6011 || p2 == 65 || p3 is >= 644 and <= 649 => "DISCOVER",
            _ when p2 is 36 or 38 || p3 is >= 300 and <= 305 => "DINERS",
            _ when p4 is >= 3528 and <= 3589 => "JCB",
            _ when p2 == 62 => "UNIONPAY",
            _ => "UNKNOWN",
        };
    }

    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// <summary>
    /// <c>tok_</c> + 128 random bits in 26 Crockford base32 characters: the shape of a prefixed ULID (so
    /// <c>PrefixedId.IsValid("tok", …)</c> accepts it) without the timestamp, and never derived from the card.
    /// </summary>
    public static string NewToken()
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(random);
        Span<char> chars = stackalloc char[26];
        for (var i = 25; i >= 0; i--, value >>= 5)
        {
            chars[i] = Alphabet[(int)(value & 31)];
        }
        return string.Concat("tok_", chars);
    }
}
