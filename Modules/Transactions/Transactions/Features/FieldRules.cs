using FluentValidation;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Money;

namespace Payments.Transactions.Features;

/// <summary>The contract's field rules, shared by this module's validators.</summary>
internal static class FieldRules
{
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
