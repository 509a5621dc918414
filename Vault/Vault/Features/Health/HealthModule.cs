using Carter;
using Npgsql;
using Payments.BuildingBlocks.Hosting;
using Payments.Vault.Acquirer;
using Payments.Vault.Audit;
using Payments.Vault.Features.CardEntry;
using Payments.Vault.Security;

namespace Payments.Vault.Features.Health;

/// <summary>
/// <c>/health/live</c> and <c>/health/ready</c> (the Vault's database answers). No credential: on the public listener,
/// which cardholders and load balancers reach, they say only whether the Vault is up; the security state (acquirer, card
/// page integrity, audit chain) is for operators, on the management and internal listeners.
/// </summary>
public sealed class HealthModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").OnEveryListener().AllowUnsignedCallers();
        // Which acquirer runs, and whether the card-entry page is what this release first served (PCI DSS 11.6.1).
        // And whether the audit chain verified at the last scheduled check (docs/adr/0121).
        group.MapGet("/live", (HttpContext http, IConfiguration config, CardEntryIntegrity integrity, AuditVerificationService audit) =>
            http.ListenerOf() == ListenerRole.Public ? Results.Ok(new { status = "Healthy" }) : Results.Ok(new
        {
            status = "Healthy",
            acquirer = AcquirerChoice.Resolve(config),
            card_entry_page = integrity.Unchanged switch { true => "unchanged", false => "changed", null => "unchecked" },
            audit_chain = audit.Last switch { null => "unchecked", { Valid: true } => "verified", _ => "broken" },
            audit_chain_problem = audit.Last?.Problem,
            audit_chain_broken_seq = audit.Last?.FirstBrokenSeq,
            audit_chain_checked_at = audit.LastRunAt,
        }));
        group.MapGet("/ready", async (NpgsqlDataSource db, CancellationToken ct) =>
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                await using var cmd = db.CreateCommand("SELECT 1");
                await cmd.ExecuteScalarAsync(timeout.Token);
                return Results.Ok(new { status = "Healthy" });
            }
            catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
            {
                return Results.Json(new { status = "Unhealthy" }, statusCode: 503);
            }
        });
    }
}
