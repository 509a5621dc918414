using FastEndpoints;
using FluentValidation;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Idempotency;
using Payments.Transactions.Data;
using Payments.Transactions.Lifecycle;

namespace Payments.Transactions.Features.Sandbox;

/// <summary><c>POST /v1/sandbox/expire-authorizations {"as_of"}</c>: the expiry sweep for the calling merchant, as of that instant.</summary>
internal sealed class ExpireAuthorizationsEndpoint(ICurrentMerchant merchant, ExpiryData data, OutboxSignal outbox,
    IOptions<GatewayOptions> gateway) : Endpoint<ExpireAuthorizationsRequest, ExpireAuthorizationsResponse>
{
    public override void Configure()
    {
        Post("/v1/sandbox/expire-authorizations");
        // Every POST takes an Idempotency-Key, as Stripe's do: a retried call whose answer was lost gets that answer.
        Options(b => b.WithMetadata(new IdempotentAttribute()));
    }

    public override async Task OnBeforeValidateAsync(ExpireAuthorizationsRequest req, CancellationToken ct)
    {
        SandboxRoutes.EnsureSandbox(HttpContext, gateway);
        await Task.CompletedTask;
    }

    public override async Task HandleAsync(ExpireAuthorizationsRequest req, CancellationToken ct)
    {
        // The validator passed it; parsed to UTC here because Npgsql refuses a timestamptz with any other offset.
        if (!FieldRules.TryParseTimestamp(req.AsOf, out var asOf))
        {
            throw new InvalidOperationException("as_of passed validation but does not parse.");
        }
        var expired = await data.ExpireAsync(asOf, merchant.Id, ct);
        outbox.Kick();
        await Send.OkAsync(new ExpireAuthorizationsResponse(expired), ct);
    }
}

internal sealed class ExpireAuthorizationsRequest
{
    // Text, not DateTimeOffset: System.Text.Json takes a timestamp without an offset in the server's zone, and the
    // contract refuses it (FieldRules.TryParseTimestamp).
    public string? AsOf { get; set; }

    internal sealed class Validator : Validator<ExpireAuthorizationsRequest>
    {
        public Validator() => RuleFor(x => x.AsOf).NotNull().WithMessage("Is required, as an ISO 8601 timestamp with an offset.")
            .Timestamp();
    }
}

internal sealed record ExpireAuthorizationsResponse(int Expired);
