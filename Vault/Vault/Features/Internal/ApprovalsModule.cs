using Carter;
using Payments.BuildingBlocks.Hosting;
using Payments.Vault.Acquirer;
using Payments.Vault.Contracts;
using Payments.Vault.Security;

namespace Payments.Vault.Features.Internal;

/// <summary>
/// The Host's reconciliation of approvals (ADR 133), under <c>/internal/v1/approvals</c>: internal listener, the Host's
/// service-level signature only (no merchant: the reconciler works across merchants).
/// </summary>
public sealed class ApprovalsModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/internal/v1/approvals").OnListeners(ListenerRole.Internal).RequireServiceToken(serviceLevel: true);

        group.MapGet("/open", async (int olderThanSeconds, int limit, Approvals approvals, CancellationToken ct) =>
            Results.Ok(await approvals.ListOpenAsync(TimeSpan.FromSeconds(Math.Max(0, olderThanSeconds)), Math.Clamp(limit, 1, 1000), ct)));

        // {id} unconstrained: a malformed id still meets the signature check first (401), then 404.
        group.MapPost("/{id}/hold", async (string id, ApprovalHold body, Approvals approvals, CancellationToken ct) =>
            !long.TryParse(id, out var approvalId) ? NotFound()
            : body.References is not { Count: > 0 and <= 100 }
                ? VaultResults.Problem(400, "validation_failed", "The references are required.")
                : Results.Ok(new { held = await approvals.HoldAsync(approvalId, body.References, ct) }));

        group.MapPost("/{id}/confirm", async (string id, Approvals approvals, CancellationToken ct) =>
            !long.TryParse(id, out var approvalId) ? NotFound() : Results.Ok(new { confirmed = await approvals.ConfirmAsync(approvalId, ct) }));

        group.MapPost("/{id}/reverse", async (string id, Approvals approvals, CancellationToken ct) =>
            !long.TryParse(id, out var approvalId) ? NotFound()
            : await approvals.ReverseAsync(approvalId, ct) is { } outcome
                ? Results.Ok(outcome)
                : VaultResults.Problem(409, "not_held", "The approval is not held for reversal."));
    }

    private static IResult NotFound() => VaultResults.Problem(404, "not_found", "The approval was not found.");
}
