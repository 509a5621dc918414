using FastEndpoints;
using FluentValidation;

namespace Payments.Transactions.Features.CaptureVoid;

/// <summary><c>{"operation":"capture"|"void","amount"?}</c>; no amount means all that remains.</summary>
internal sealed class CaptureVoidRequest
{
    public string? Operation { get; set; }
    public long? Amount { get; set; }

    public bool IsCapture => string.Equals(Operation, "capture", StringComparison.OrdinalIgnoreCase);

    internal sealed class Validator : Validator<CaptureVoidRequest>
    {
        public Validator()
        {
            RuleFor(x => x.Operation)
                .Must(o => string.Equals(o, "capture", StringComparison.OrdinalIgnoreCase) ||
                           string.Equals(o, "void", StringComparison.OrdinalIgnoreCase))
                .WithMessage("Must be capture or void.");
            RuleFor(x => x.Amount).Amount();
        }
    }
}
