using FastEndpoints;
using FluentValidation;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Money;
using Payments.BuildingBlocks.Text;

namespace Payments.Intents.Features.Create;

/// <summary><c>{"amount","currency","order_id","external_id"?,"card_token"?,"description"?,"metadata"?}</c>.</summary>
internal sealed class CreatePaymentIntentRequest
{
    public long? Amount { get; set; }
    public string? Currency { get; set; }
    public string? OrderId { get; set; }
    public string? ExternalId { get; set; }
    public string? CardToken { get; set; }
    public string? Description { get; set; }
    public Dictionary<string, string>? Metadata { get; set; }

    internal sealed class Validator : Validator<CreatePaymentIntentRequest>
    {
        private const string CardDataMessage = "Must not hold card data.";

        public Validator()
        {
            RuleFor(x => x.Amount).NotNull().WithMessage("Is required.")
                .Must(v => v is null || Currencies.IsValidAmount(v.Value))
                .WithMessage($"Must be an integer from {Currencies.MinAmount} to {Currencies.MaxAmount} in the currency's minor unit.");
            RuleFor(x => x.Currency).NotNull().WithMessage("Is required.")
                .Must(v => v is null || Currencies.IsSupported(v)).WithMessage("Must be a supported upper-case ISO 4217 code.");
            RuleFor(x => x.OrderId).NotNull().WithMessage("Is required.")
                .Must(v => v is null || IsReference(v)).WithMessage("Must be 1 to 64 printable ASCII characters.")
                .Must(v => !CardNumberDetector.HoldsCardNumber(v)).WithErrorCode(ErrorCodes.CardDataInField).WithMessage(CardDataMessage);
            RuleFor(x => x.ExternalId)
                .Must(v => v is null || IsReference(v)).WithMessage("Must be 1 to 64 printable ASCII characters.")
                .Must(v => !CardNumberDetector.HoldsCardNumber(v)).WithErrorCode(ErrorCodes.CardDataInField).WithMessage(CardDataMessage);
            RuleFor(x => x.CardToken)
                .Must(v => v is null || (v.Length is >= 1 and <= 100 && v.All(c => c is > ' ' and <= '~'))).WithMessage("Must be a tok_ id.");
            RuleFor(x => x.Description)
                .Must(v => MerchantText.IsAtMost(v, MerchantText.MaxTextLength)).WithMessage("Must be at most 1,000 characters.")
                .Must(v => !CardNumberDetector.HoldsCardNumber(v)).WithErrorCode(ErrorCodes.CardDataInField).WithMessage(CardDataMessage);
            RuleFor(x => x.Metadata)
                .Must(m => m is null || m.Count <= MerchantText.MaxMetadataPairs).WithMessage("Holds at most 20 pairs.")
                .Must(m => m is null || m.All(p => MerchantText.IsMetadataPair(p.Key, p.Value)))
                .WithMessage("Keys are 1 to 40 characters, values strings of at most 500.")
                .Must(m => m is null || !m.Any(p => CardNumberDetector.HoldsCardNumber(p.Key) || CardNumberDetector.HoldsCardNumber(p.Value)))
                .WithErrorCode(ErrorCodes.CardDataInField).WithMessage(CardDataMessage);
        }

        private static bool IsReference(string v) => v.Length is >= 1 and <= 64 && v.All(c => c is >= ' ' and <= '~');
    }
}
