using System.Text.Json;
using Carter;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Http;
using Payments.Vault.Cards;
using Payments.Vault.Security;

namespace Payments.Vault.Features.CardEntry;

/// <summary>
/// <c>POST /v1/tokenization-intents/{id}/card</c>: the JSON post of a PCI-scoped merchant server, and the form post
/// of the card-entry page. The client secret is the credential; nothing here ever echoes a number or CVC.
/// </summary>
public sealed class CardSubmissionModule : ICarterModule
{
    private static readonly HashSet<string> Fields = ["client_secret", "number", "exp_month", "exp_year", "cvc", "holder_name"];

    public void AddRoutes(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/tokenization-intents/{id}/card", async (string id, HttpContext http, CardVault vault,
            MerchantRateLimits limits, FailedCardEntryLimits failures, TimeProvider clock, IConfiguration config, CancellationToken ct) =>
        {
            var isForm = http.Request.HasFormContentType;
            if (failures.Exhausted(http, id))
            {
                await failures.LimitedAsync(id);
                return isForm ? CardEntryPage.Message(429, "Too many attempts.", "Please try again in a minute.", null)
                    : VaultResults.Problem(429, "rate_limited", "Too many failed card submissions; try again later.", retryAfterSeconds: 60);
            }
            ParsedSubmission parsed;
            if (isForm)
            {
                IFormCollection form;
                try
                {
                    form = await http.Request.ReadFormAsync(ct);
                }
                catch (InvalidDataException)
                {
                    // Over the form reader's limits (field count, key length): bad input, not a server error.
                    return VaultResults.Problem(400, "validation_failed", "The form could not be read.", BodyError("The form could not be read."));
                }
                parsed = ParseForm(form);
            }
            else if (http.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
            {
                parsed = await ParseJsonAsync(http.Request.Body, ct);
                if (parsed.Malformed is { } malformed)
                {
                    return VaultResults.Problem(400, "validation_failed", "The body is not a JSON object of the documented fields.", BodyError(malformed));
                }
            }
            else
            {
                return VaultResults.Problem(415, "unsupported_media_type", "Send application/json or a form.");
            }

            var intent = await vault.FindIntentAsync(id, ct);
            if (intent is null || !CardVault.SecretMatches(intent, parsed.ClientSecret))
            {
                await failures.FailedAsync(http, id, intent?.MerchantId, intent is null ? "unknown_intent" : "wrong_client_secret");
                return isForm ? CardEntryPage.Message(404, "This card form is not valid.", "Ask the shop for a new link.", null)
                    : VaultResults.Problem(404, "not_found", "The tokenization intent was not found.");
            }
            if (limits.TrySubmission(intent.MerchantId) is { } retryAfter)
            {
                return isForm ? CardEntryPage.Message(429, "Too many attempts.", "Please try again in a minute.", null)
                    : VaultResults.Problem(429, "rate_limited", "Too many card submissions.", retryAfterSeconds: retryAfter);
            }

            var errors = CardRules.Validate(parsed.Number, parsed.ExpMonth, parsed.ExpYear, parsed.Cvc, parsed.HolderName, clock.GetUtcNow());
            foreach (var (field, message) in parsed.TypeErrors)
            {
                errors[field] = [message];
            }
            var card = errors.Count == 0
                ? new CardSubmission(parsed.Number!, parsed.ExpMonth!.Value, parsed.ExpYear!.Value, parsed.Cvc!,
                    string.IsNullOrWhiteSpace(parsed.HolderName) ? null : parsed.HolderName.Trim())
                : null;
            var outcome = await vault.SubmitAsync(id, parsed.ClientSecret!, card, errors, ct);
            if (outcome.Result == SubmitResult.Invalid)
            {
                await failures.FailedAsync(http, id, intent.MerchantId, "card_refused");
            }
            return outcome.Result switch
            {
                SubmitResult.Stored => isForm
                    ? CardEntryPage.Succeeded(outcome.Intent!, outcome.Card!)
                    : Results.Json(IntentView.Of(outcome.Intent!, "SUCCEEDED", outcome.Card), statusCode: 201),
                SubmitResult.Invalid => isForm
                    ? (outcome.Intent!.Status == "FAILED"
                        ? CardEntryPage.Message(409, "Too many failed attempts.", "This card form is closed. Ask the shop for a new link.", outcome.Intent.ReturnUrl)
                        : CardEntryPage.Form(outcome.Intent, parsed.ClientSecret!, errors, 400, LiveModeGuard.IsLive(config)))
                    : VaultResults.Problem(400, "validation_failed", "The card data is not valid.", errors),
                SubmitResult.NotFound => VaultResults.Problem(404, "not_found", "The tokenization intent was not found."),
                SubmitResult.Succeeded => isForm
                    ? CardEntryPage.Message(409, "A card was already saved.", "This card form was already used.", outcome.Intent!.ReturnUrl)
                    : VaultResults.Problem(409, "intent_succeeded", "The tokenization intent already has a card."),
                SubmitResult.Expired => isForm
                    ? CardEntryPage.Message(409, "This card form has expired.", "Ask the shop for a new link.", outcome.Intent!.ReturnUrl)
                    : VaultResults.Problem(409, "intent_expired", "The tokenization intent has expired."),
                _ => isForm
                    ? CardEntryPage.Message(409, "Too many failed attempts.", "This card form is closed. Ask the shop for a new link.", outcome.Intent!.ReturnUrl)
                    : VaultResults.Problem(409, "intent_failed", "The tokenization intent failed after too many refused cards."),
            };
        }).DisableAntiforgery().AllowUnsignedCallers();
    }

    private static ParsedSubmission ParseForm(IFormCollection form)
    {
        var p = new ParsedSubmission
        {
            ClientSecret = form["client_secret"].ToString(),
            // People type spaces and hyphens in card numbers; they carry no meaning.
            Number = form["number"].ToString().Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal),
            Cvc = form["cvc"].ToString().Trim(),
            HolderName = form["holder_name"].ToString(),
        };
        p.ExpMonth = ParseInt(form["exp_month"].ToString(), "exp_month", "The expiry month must be 1 to 12.", p);
        var year = ParseInt(form["exp_year"].ToString(), "exp_year", "The expiry year must have four digits.", p);
        p.ExpYear = year is >= 0 and < 100 ? 2000 + year : year;
        return p;
    }

    private static int? ParseInt(string value, string field, string message, ParsedSubmission p)
    {
        if (int.TryParse(value.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
        {
            return n;
        }
        p.TypeErrors[field] = message;
        return null;
    }

    /// <summary>A body that cannot be read at all is the <c>body</c> field's error, as the Host answers it.</summary>
    private static Dictionary<string, string[]> BodyError(string message) => new() { [JsonBodyCheck.BodyField] = [message] };

    private static async Task<ParsedSubmission> ParseJsonAsync(Stream body, CancellationToken ct)
    {
        var p = new ParsedSubmission();
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(body, new JsonDocumentOptions { MaxDepth = 4 }, ct);
        }
        catch (JsonException)
        {
            p.Malformed = JsonBodyCheck.NotJson;
            return p;
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                p.Malformed = JsonBodyCheck.NotAnObject;
                return p;
            }
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!Fields.Contains(prop.Name))
                {
                    // Named as sent only when the name is safe to echo: a card number as a field name is not.
                    p.TypeErrors[Problems.EchoableName(prop.Name, "body")] = "Unknown field.";
                    continue;
                }
                var v = prop.Value;
                switch (prop.Name)
                {
                    case "client_secret":
                        p.ClientSecret = v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                        break;
                    case "number":
                        p.Number = v.ValueKind == JsonValueKind.String ? v.GetString()!.Replace(" ", "", StringComparison.Ordinal) : null;
                        break;
                    case "cvc":
                        p.Cvc = v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                        break;
                    case "holder_name":
                        if (v.ValueKind == JsonValueKind.String)
                        {
                            p.HolderName = v.GetString();
                        }
                        else if (v.ValueKind != JsonValueKind.Null)
                        {
                            p.TypeErrors["holder_name"] = "The holder name must be a string.";
                        }
                        break;
                    case "exp_month":
                        p.ExpMonth = v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var m) ? m : null;
                        break;
                    case "exp_year":
                        p.ExpYear = v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var y) ? y : null;
                        break;
                    default:
                        break;
                }
            }
        }
        return p;
    }

    private sealed class ParsedSubmission
    {
        /// <summary>Why the body is not a JSON object at all, as the Host words it.</summary>
        public string? Malformed { get; set; }
        public string? ClientSecret { get; set; }
        public string? Number { get; set; }
        public int? ExpMonth { get; set; }
        public int? ExpYear { get; set; }
        public string? Cvc { get; set; }
        public string? HolderName { get; set; }
        public Dictionary<string, string> TypeErrors { get; } = [];
    }
}

/// <summary>The intent as the Host shows it, from the Vault's side.</summary>
internal static class IntentView
{
    public static object Of(IntentRow intent, string status, Contracts.CardDisplay? card) => new Dictionary<string, object?>
    {
        ["id"] = intent.IntentId,
        ["status"] = status,
        ["card_token"] = intent.CardToken,
        ["card"] = card is null ? null : new Dictionary<string, object?>
        {
            ["brand"] = card.Brand, ["last4"] = card.Last4, ["exp_month"] = card.ExpMonth, ["exp_year"] = card.ExpYear,
            ["fingerprint"] = card.Fingerprint,
        },
        ["return_url"] = intent.ReturnUrl,
        ["metadata"] = intent.Metadata,
        ["expires_at"] = intent.ExpiresAt,
        ["created_at"] = intent.CreatedAt,
    };
}
