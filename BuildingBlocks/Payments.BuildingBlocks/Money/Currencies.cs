using System.Collections.Frozen;

namespace Payments.BuildingBlocks.Money;

/// <summary>ISO 4217 currencies the gateway accepts, with their minor-unit exponent (0, 2 or 3).</summary>
/// <remarks>X-codes (metals, testing, SDR) and fund codes (BOV, CLF, COU, MXV, USN, UYI, UYW, CHE, CHW) are refused.</remarks>
public static class Currencies
{
    public const long MinAmount = 1;
    /// <summary>ISO 8583's 12 digits.</summary>
    public const long MaxAmount = 999_999_999_999;

    private static readonly FrozenDictionary<string, int> Exponents = Build();

    public static bool IsSupported(string? code) => code is not null && Exponents.ContainsKey(code);

    public static int Exponent(string code) => Exponents[code];

    public static bool IsValidAmount(long amount) => amount is >= MinAmount and <= MaxAmount;

    public static IEnumerable<string> All => Exponents.Keys;

    private static FrozenDictionary<string, int> Build()
    {
        const string zero = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV";
        const string three = "BHD IQD JOD KWD LYD OMR TND";
        const string two =
            "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF " +
            "CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF " +
            "IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK " +
            "MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE " +
            "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST YER ZAR ZMW ZWG";
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (codes, exp) in new[] { (zero, 0), (two, 2), (three, 3) })
        {
            foreach (var c in codes.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                map[c] = exp;
            }
        }
        // The contract refuses every X-code, the regional ones (XAF, XOF, XCD, XPF) included.
        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
