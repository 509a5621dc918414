using System.Globalization;
using System.Text.RegularExpressions;
using FluentValidation;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Money;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features;

/// <summary>The contract's field rules, shared by this module's validators.</summary>
internal static partial class FieldRules
{
    public const string TimestampMessage = "Must be an ISO 8601 timestamp with an offset, such as 2024-03-01T12:00:00Z.";

    /// <summary>
    /// The contract's timestamps: ISO 8601 date and time with <c>Z</c> or a <c>±hh:mm</c> offset, as UTC at PostgreSQL's
    /// precision. Without an offset the instant is ambiguous (the framework would take the server's zone), so it is
    /// refused; any offset is the same instant, and UTC because Npgsql writes only offset 0 to timestamptz.
    /// </summary>
    public static bool TryParseTimestamp(string? text, out DateTimeOffset utc)
    {
        utc = default;
        if (text is null || !IsoTimestamp().IsMatch(text) ||
            !DateTimeOffset.TryParse(text.ToUpperInvariant(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return false;
        }
        utc = PostgresTime.Truncate(parsed);
        return true;
    }

    public static IRuleBuilderOptions<T, string?> Timestamp<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(v => v is null || TryParseTimestamp(v, out _)).WithMessage(TimestampMessage);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?([Zz]|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex IsoTimestamp();

    public static bool IsPrintableAscii(string? v) => v is not null && v.All(c => c is >= ' ' and <= '~');

    public static IRuleBuilderOptions<T, string?> ExternalReference<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(v => v is null || (v.Length is >= 1 and <= 64 && IsPrintableAscii(v)))
            .WithMessage("Must be 1 to 64 printable ASCII characters.")
            .NoCardData();

    public static IRuleBuilderOptions<T, string?> NoCardData<T>(this IRuleBuilderOptions<T, string?> rule) =>
        rule.Must(v => !CardNumberDetector.HoldsCardNumber(v))
            .WithErrorCode(ErrorCodes.CardDataInField)
            .WithMessage("Must not hold card data.");

    public static IRuleBuilderOptions<T, long?> Amount<T>(this IRuleBuilder<T, long?> rule) =>
        rule.Must(v => v is null || Currencies.IsValidAmount(v.Value))
            .WithMessage($"Must be an integer from {Currencies.MinAmount} to {Currencies.MaxAmount} in the currency's minor unit.");

    public static IRuleBuilderOptions<T, string?> Currency<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(v => v is null || Currencies.IsSupported(v))
            .WithMessage("Must be a supported upper-case ISO 4217 code.");

    public static IRuleBuilderOptions<T, string?> Token<T>(this IRuleBuilder<T, string?> rule, string prefix) =>
        rule.Must(v => v is null || (v.Length is >= 1 and <= 100 && IsPrintableAscii(v)))
            .WithMessage($"Must be a {prefix}_ id.");
}
