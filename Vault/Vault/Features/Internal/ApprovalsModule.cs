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

        group.MapPost("/{id:long}/hold", async (long id, ApprovalHold body, Approvals approvals, CancellationToken ct) =>
            body.References is not { Count: > 0 and <= 100 }
                ? VaultResults.Problem(400, "validation_failed", "The references are required.")
                : Results.Ok(new { held = await approvals.HoldAsync(id, body.References, ct) }));

        group.MapPost("/{id:long}/confirm", async (long id, Approvals approvals, CancellationToken ct) =>
            Results.Ok(new { confirmed = await approvals.ConfirmAsync(id, ct) }));

        group.MapPost("/{id:long}/reverse", async (long id, Approvals approvals, CancellationToken ct) =>
            await approvals.ReverseAsync(id, ct) is { } outcome
                ? Results.Ok(outcome)
                : VaultResults.Problem(409, "not_held", "The approval is not held for reversal."));
    }
}
