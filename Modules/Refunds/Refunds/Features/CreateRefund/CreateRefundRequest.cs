using FastEndpoints;
using FluentValidation;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Money;
using Payments.BuildingBlocks.Text;

namespace Payments.Refunds.Features.CreateRefund;

/// <summary><c>{"amount"?, "reason"?}</c>; no amount means all still refundable.</summary>
internal sealed class CreateRefundRequest
{
    public const int MaxReasonLength = MerchantText.MaxTextLength;

    public long? Amount { get; set; }
    public string? Reason { get; set; }

    internal sealed class Validator : Validator<CreateRefundRequest>
    {
        public Validator()
        {
            RuleFor(x => x.Amount)
                .Must(v => v is null || Currencies.IsValidAmount(v.Value))
                .WithMessage($"Must be an integer from {Currencies.MinAmount} to {Currencies.MaxAmount} in the currency's minor unit.");
            RuleFor(x => x.Reason)
                .Must(v => MerchantText.IsAtMost(v, MaxReasonLength))
                .WithMessage($"Must be at most {MaxReasonLength} characters.");
            // Never echo the value: the message says what, not where.
            RuleFor(x => x.Reason)
                .Must(v => !CardNumberDetector.HoldsCardNumber(v))
                .WithErrorCode(ErrorCodes.CardDataInField)
                .WithMessage("Must not hold card data.");
        }
    }
}
