using FastEndpoints;
using FluentValidation;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Http;
using Payments.Webhooks.Contracts;

namespace Payments.Webhooks.Features.CreateEndpoint;

internal sealed class CreateEndpointRequest
{
    public string? Url { get; set; }
    public List<string>? EnabledEvents { get; set; }

    internal sealed class Validator : Validator<CreateEndpointRequest>
    {
        public Validator()
        {
            RuleFor(x => x.Url).NotEmpty().WithMessage("Is required.")
                .MaximumLength(2048).WithMessage("Must be at most 2048 characters.");
            // Stored and shown back like a tokenization intent's return_url, so refused the same way.
            RuleFor(x => x.Url)
                .Must(u => !CardNumberDetector.HoldsCardNumber(u))
                .WithErrorCode(ErrorCodes.CardDataInField)
                .WithMessage("url holds what looks like a card number.")
                .When(x => x.Url is not null);
            RuleFor(x => x.EnabledEvents).NotEmpty().WithMessage("Give \"*\" or at least one event type.")
                .Must(e => e is null || e.Count <= 32).WithMessage("At most 32 entries.")
                .Must(e => e is null || e.Distinct(StringComparer.Ordinal).Count() == e.Count).WithMessage("Entries must be distinct.");
            RuleForEach(x => x.EnabledEvents)
                .Must(t => t == "*" || WebhookEventTypes.All.Contains(t))
                .WithMessage("Must be \"*\" or one of: " + string.Join(", ", WebhookEventTypes.All) + ".");
        }
    }
}
