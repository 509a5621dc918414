using FluentValidation.Results;
using Payments.BuildingBlocks.Http;

namespace Payments.Host.Pipeline;

/// <summary>FastEndpoints' validation and binding failures in the gateway's problem shape: <c>errors</c> keyed by field.</summary>
internal static class ValidationProblems
{
    public static object Build(List<ValidationFailure> failures, HttpContext http, int status)
    {
        var errors = failures
            // A field name is the caller's text (an unknown field): echoed only when it is plainly a name.
            .GroupBy(f => Problems.EchoableName(f.PropertyName ?? "", "body"))
            .ToDictionary(g => g.Key, g => g.Select(f => f.ErrorMessage).Distinct().ToArray());
        // A card number in a free-text field has its own code, so merchants can tell it apart.
        var code = failures.Any(f => f.ErrorCode == ErrorCodes.CardDataInField)
            ? ErrorCodes.CardDataInField
            : ErrorCodes.ValidationFailed;
        var detail = code == ErrorCodes.CardDataInField
            ? "A field holds what looks like a card number. Card data goes only to the Vault."
            : "One or more fields are not valid.";
        return Problems.Create(http, status, code, detail, errors);
    }
}
