using Carter;
using Payments.BuildingBlocks.Hosting;
using Payments.Vault.Acquirer;
using Payments.Vault.Audit;
using Payments.Vault.Cards;
using Payments.Vault.Contracts;
using Payments.Vault.Security;

namespace Payments.Vault.Features.Internal;

/// <summary>
/// The Host's routes, under <c>/internal/v1</c>: every call is signed by the Host (checked by
/// <see cref="ServiceAuthenticationMiddleware"/> before it gets here), and the merchant comes from that signature.
/// </summary>
public sealed class InternalModule : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        // Served on the internal listener only (ADR 0015): the public port does not route here however a path is spelt.
        // Every route needs the Host's signature, decided by the endpoint reached, not by the path's spelling.
        var group = app.MapGroup("/internal/v1").OnListeners(ListenerRole.Internal).RequireServiceToken();

        group.MapPut("/tokenization-intents/{id}", async (string id, TokenizationIntentRegistration body, HttpContext http,
            CardVault vault, CancellationToken ct) =>
        {
            if (body.IntentId != id || body.ClientSecretSha256.Length != 64)
            {
                return VaultResults.Problem(400, "validation_failed", "The registration does not match its route.");
            }
            await vault.RegisterIntentAsync(http.Merchant(), body, ct);
            return Results.NoContent();
        });

        group.MapGet("/tokenization-intents/{id}", async (string id, HttpContext http, CardVault vault, CancellationToken ct) =>
            await vault.GetIntentStateAsync(http.Merchant(), id, ct) is { } state
                ? Results.Ok(state)
                : VaultResults.Problem(404, "not_found", "The tokenization intent was not found."));

        // Every merchant's new tokens: a service-level token (no merchant) only, and each page that discloses rows audited.
        group.MapGet("/tokenization-intents-succeeded", async (long after, int limit, CardVault vault, AuditLog audit, CancellationToken ct) =>
        {
            var rows = await vault.ListSucceededAsync(after, Math.Clamp(limit, 1, 1000), ct);
            if (rows.Count > 0)
            {
                await audit.AppendAsync("feed.read", null, null, new Dictionary<string, object?>
                {
                    ["after"] = after, ["rows"] = rows.Count, ["last"] = rows[^1].Sequence,
                });
            }
            return Results.Ok(rows);
        }).RequireServiceToken(serviceLevel: true);

        group.MapGet("/cards/{token}", async (string token, HttpContext http, CardVault vault, CancellationToken ct) =>
            await vault.GetCardAsync(http.Merchant(), token, ct) is { } card
                ? Results.Ok(card)
                : VaultResults.Problem(404, "not_found", "The card token was not found."));

        group.MapDelete("/cards/{token}", async (string token, HttpContext http, CardVault vault, CancellationToken ct) =>
            await vault.DeleteCardAsync(http.Merchant(), token, ct)
                ? Results.NoContent()
                : VaultResults.Problem(404, "not_found", "The card token was not found."));

        group.MapPost("/acquirer/authorize", (AcquirerRequest body, HttpContext http, CardVault vault, MerchantRateLimits limits,
            CancellationToken ct) => UseCard(http, limits, body, () => vault.AuthorizeAsync(http.Merchant(), body, ct)));

        group.MapPost("/acquirer/refund", (AcquirerRequest body, HttpContext http, CardVault vault, MerchantRateLimits limits,
            CancellationToken ct) => UseCard(http, limits, body, () => vault.RefundAsync(http.Merchant(), body, ct)));
    }

    private static async Task<IResult> UseCard(HttpContext http, MerchantRateLimits limits, AcquirerRequest body, Func<Task<AcquirerOutcome>> use)
    {
        if (body.Amount <= 0 || string.IsNullOrEmpty(body.CardToken) || body.CardToken.Length > 64 ||
            body.AttemptKey is { Length: 0 or > 128 })
        {
            return VaultResults.Problem(400, "validation_failed", "The acquirer request is not valid.");
        }
        if (limits.TryCardUse(http.Merchant()) is { } retryAfter)
        {
            return VaultResults.Problem(429, "rate_limited", "Too many card uses for this merchant.", retryAfterSeconds: retryAfter);
        }
        try
        {
            return Results.Ok(await use());
        }
        catch (AttemptKeyReusedException)
        {
            return VaultResults.Problem(409, "attempt_key_reused", "The attempt key was first used with a different request.");
        }
        catch (AttemptInProgressException)
        {
            return VaultResults.Problem(409, "attempt_in_progress", "Another call with this attempt key is with the acquirer.",
                retryAfterSeconds: 1);
        }
    }
}
