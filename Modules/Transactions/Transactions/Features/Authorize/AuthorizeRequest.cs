using FastEndpoints;
using FluentValidation;

namespace Payments.Transactions.Features.Authorize;

/// <summary><c>{"operation","payment_intent_id","card_token"?}</c> or <c>{"operation","amount","currency","card_token","order_id","external_id"?}</c>.</summary>
internal sealed class AuthorizeRequest
{
    public string? Operation { get; set; }
    public string? PaymentIntentId { get; set; }
    public long? Amount { get; set; }
    public string? Currency { get; set; }
    public string? CardToken { get; set; }
    public string? OrderId { get; set; }
    public string? ExternalId { get; set; }

    public bool Capture => string.Equals(Operation, "authcap", StringComparison.OrdinalIgnoreCase);

    internal sealed class Validator : Validator<AuthorizeRequest>
    {
        public Validator()
        {
            RuleFor(x => x.Operation)
                .Must(o => string.Equals(o, "authorize", StringComparison.OrdinalIgnoreCase) ||
                           string.Equals(o, "authcap", StringComparison.OrdinalIgnoreCase))
                .WithMessage("Must be authorize or authcap.");
            RuleFor(x => x.CardToken).Token("tok");
            When(x => x.PaymentIntentId is not null, () =>
            {
                RuleFor(x => x.PaymentIntentId).Token("pi");
                RuleFor(x => x.Amount).Null().WithMessage("Comes from the payment intent; do not send it with payment_intent_id.");
                RuleFor(x => x.Currency).Null().WithMessage("Comes from the payment intent; do not send it with payment_intent_id.");
                RuleFor(x => x.OrderId).Null().WithMessage("Comes from the payment intent; do not send it with payment_intent_id.");
                RuleFor(x => x.ExternalId).Null().WithMessage("Comes from the payment intent; do not send it with payment_intent_id.");
            }).Otherwise(() =>
            {
                RuleFor(x => x.Amount).NotNull().WithMessage("Is required.").Amount();
                RuleFor(x => x.Currency).NotNull().WithMessage("Is required.").Currency();
                RuleFor(x => x.CardToken).NotNull().WithMessage("Is required.");
                RuleFor(x => x.OrderId).NotNull().WithMessage("Is required.").ExternalReference();
                RuleFor(x => x.ExternalId).ExternalReference();
            });
        }
    }
}
