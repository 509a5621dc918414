using FastEndpoints;
using FluentValidation;
using Payments.BuildingBlocks.CardData;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Text;

namespace Payments.Tokenization.Features.CreateIntent;

internal sealed class CreateTokenizationIntentRequest
{
    public string? ReturnUrl { get; set; }
    public Dictionary<string, string>? Metadata { get; set; }

    internal sealed class Validator : Validator<CreateTokenizationIntentRequest>
    {
        public Validator()
        {
            RuleFor(x => x.ReturnUrl)
                .Must(u => !UrlText.HasWhitespaceOrControl(u)).WithMessage("return_url must not contain whitespace or control characters.")
                .Must(u => !Uri.TryCreate(u, UriKind.Absolute, out var uri) || uri.Port != 0).WithMessage("return_url must not use port 0.")
                .When(x => x.ReturnUrl is not null);
            RuleFor(x => x.ReturnUrl)
                .Must(u => u!.Length <= 2048 && Uri.TryCreate(u, UriKind.Absolute, out var uri)
                           && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp) && string.IsNullOrEmpty(uri.UserInfo))
                .WithMessage("return_url must be an absolute http or https URL of at most 2048 characters, without credentials.")
                .When(x => x.ReturnUrl is not null);
            RuleFor(x => x.ReturnUrl)
                .Must(u => !CardNumberDetector.HoldsCardNumber(u))
                .WithErrorCode(ErrorCodes.CardDataInField)
                .WithMessage("return_url holds what looks like a card number.")
                .When(x => x.ReturnUrl is not null);
            RuleFor(x => x.Metadata)
                .Must(m => m!.Count <= MerchantText.MaxMetadataPairs).WithMessage("metadata holds at most 20 pairs.")
                .Must(m => m!.All(kv => MerchantText.IsMetadataPair(kv.Key, kv.Value)))
                .WithMessage("metadata keys are 1 to 40 characters and values at most 500.")
                .When(x => x.Metadata is not null);
            RuleFor(x => x.Metadata)
                .Must(m => !m!.Any(kv => CardNumberDetector.HoldsCardNumber(kv.Key) || CardNumberDetector.HoldsCardNumber(kv.Value)))
                .WithErrorCode(ErrorCodes.CardDataInField)
                .WithMessage("metadata holds what looks like a card number.")
                .When(x => x.Metadata is not null);
        }
    }
}
