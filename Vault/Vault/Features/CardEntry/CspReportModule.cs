using System.Text.Json;
using System.Threading.RateLimiting;
using Carter;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Logging;
using Payments.Vault.Audit;
using Payments.Vault.Security;

namespace Payments.Vault.Features.CardEntry;

/// <summary>
/// <c>POST /csp-reports</c>: browsers report what the card-entry page's CSP blocked (<c>report-uri</c>, and the
/// Reporting API's <c>report-to</c>). Each report is audited: the directive, the blocked resource's origin and the
/// page's path, with card numbers masked. Never its query, which holds the client secret. Bounded (8 KiB, 20 reports a minute per address) so
/// reports cannot flood the audit trail. <c>GET /card-entry/inventory</c> on the management port lists the page's
/// scripts with their SRI hashes (PCI DSS 6.4.3).
/// </summary>
public sealed class CspReportModule : ICarterModule
{
    private static readonly PartitionedRateLimiter<string> PerAddress = PartitionedRateLimiter.Create<string, string>(a =>
        RateLimitPartition.GetFixedWindowLimiter(a, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = 20, Window = TimeSpan.FromMinutes(1), QueueLimit = 0,
        }));

    public void AddRoutes(IEndpointRouteBuilder app)
    {
        app.MapPost(CardEntryPage.ReportPath, async (HttpContext http, AuditLog audit, CancellationToken ct) =>
        {
            if (http.Request.ContentLength is > 8192)
            {
                return Results.StatusCode(413);
            }
            using (var lease = PerAddress.AttemptAcquire(http.Connection.RemoteIpAddress?.ToString() ?? "in-process"))
            {
                if (!lease.IsAcquired)
                {
                    return Results.StatusCode(429);
                }
            }
            var reports = new List<Dictionary<string, object?>>();
            try
            {
                using var doc = await JsonDocument.ParseAsync(http.Request.Body, new JsonDocumentOptions { MaxDepth = 6 }, ct);
                foreach (var report in Reports(doc.RootElement).Take(5))
                {
                    reports.Add(new Dictionary<string, object?>
                    {
                        ["directive"] = Text(report, "effective-directive", "effectiveDirective", "violated-directive"),
                        ["blocked"] = OriginOnly(Text(report, "blocked-uri", "blockedURL")),
                        ["page"] = PathOnly(Text(report, "document-uri", "documentURL")),
                        ["disposition"] = Text(report, "disposition"),
                    });
                }
            }
            catch (JsonException)
            {
                return Results.BadRequest();
            }
            foreach (var r in reports)
            {
                await audit.AppendAsync("card_entry.csp_violation", null, null, r);
            }
            return Results.NoContent();
        }).DisableAntiforgery().AllowUnsignedCallers();

        app.MapGet("/card-entry/inventory", (CardEntryIntegrity integrity) => Results.Ok(new
        {
            release = integrity.Release,
            scripts = integrity.Scripts,
            styles = integrity.Styles,
            content_security_policy = CardEntryPage.ContentSecurityPolicy,
            unchanged_since_recorded = integrity.Unchanged,
        })).OnListeners(ListenerRole.Management).AllowUnsignedCallers();
    }

    /// <summary><c>{"csp-report": {...}}</c> (report-uri) or <c>[{"type":"csp-violation","body":{...}}]</c> (report-to).</summary>
    private static IEnumerable<JsonElement> Reports(JsonElement root)
    {
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("csp-report", out var legacy) && legacy.ValueKind == JsonValueKind.Object)
        {
            yield return legacy;
        }
        else if (root.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in root.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("body", out var body) && body.ValueKind == JsonValueKind.Object)
                {
                    yield return body;
                }
            }
        }
    }

    private static string? Text(JsonElement e, params string[] names)
    {
        foreach (var n in names)
        {
            if (e.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String)
            {
                // Anyone can post a report: a card number typed into it must not reach the audit log, kept 13 months.
                var s = v.GetString()!;
                return LogRedactor.Redact(s.Length > 200 ? s[..200] : s);
            }
        }
        return null;
    }

    private static string? OriginOnly(string? url) =>
        url is not null && Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.GetLeftPart(UriPartial.Authority) : url is { Length: <= 20 } ? url : null;

    private static string? PathOnly(string? url) =>
        url is not null && Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.AbsolutePath : null;
}
