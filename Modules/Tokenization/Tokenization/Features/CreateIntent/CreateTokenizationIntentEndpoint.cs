using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Tokenization.Data;
using Payments.Vault.Contracts;

namespace Payments.Tokenization.Features.CreateIntent;

/// <summary>
/// <c>POST /v1/tokenization-intents</c>: registers the intent with the Vault (only a hash of its client secret goes
/// there), then records it. The cardholder's browser opens <c>card_entry_url</c>, served by the Vault: card data
/// never passes through the Host.
/// </summary>
internal sealed class CreateTokenizationIntentEndpoint(
    ICurrentMerchant merchant,
    IVaultClient vault,
    IntentStore intents,
    TimeProvider clock,
    IConfiguration config,
    IOptions<GatewayOptions> gateway) : Endpoint<CreateTokenizationIntentRequest, CreateTokenizationIntentResponse>
{
    public override void Configure()
    {
        Post("/v1/tokenization-intents");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<CreateTokenizationIntentResponse>(201).ProducesProblem(400).ProducesProblem(401).ProducesProblem(503));
        Summary(s => s.Summary = "Create a tokenization intent: the cardholder enters the card on the Vault's card_entry_url.");
    }

    public override async Task HandleAsync(CreateTokenizationIntentRequest req, CancellationToken ct)
    {
        if (!gateway.Value.IsSandbox && req.ReturnUrl is not null && !req.ReturnUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            throw ProblemException.Validation("return_url", "return_url must be an https URL in live mode.");
        }
        var now = clock.UtcNowMicros(); // as stored: the create answer, a later GET and the Vault's answer agree
        var id = PrefixedId.New("tki", clock);
        var secret = id + "_secret_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var lifetime = TimeSpan.FromMinutes(config.GetValue("Tokenization:IntentLifetimeMinutes", 30.0));
        var expiresAt = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero) + lifetime;

        // The Vault first: an intent the Host shows must be one the card-entry page accepts.
        var metadata = req.Metadata ?? [];
        await vault.RegisterTokenizationIntentAsync(merchant.Id, new TokenizationIntentRegistration(
            id, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret))), expiresAt, req.ReturnUrl, metadata, now), ct);
        await intents.InsertAsync(new IntentRecord(id, merchant.Id, "REQUIRES_CARD", req.ReturnUrl, metadata, null, null, expiresAt, now), ct);

        var vaultUrl = (config["Vault:PublicUrl"] is { Length: > 0 } p ? p : config["Vault:BaseUrl"] ?? "").TrimEnd('/');
        var cardEntryUrl = $"{vaultUrl}/v1/tokenization-intents/{id}/card-entry?client_secret={Uri.EscapeDataString(secret)}";
        HttpContext.Response.Headers.Location = $"/v1/tokenization-intents/{id}";
        var response = new CreateTokenizationIntentResponse(id, "REQUIRES_CARD", secret, cardEntryUrl, expiresAt, req.ReturnUrl, metadata, now);
        // Stored for the Idempotency-Key without its secret in clear: the answer as sent is kept sealed beside it, and a
        // replay answers that (AnswerSeal), so a caller that lost the first answer still gets the secret.
        HttpContext.Features.Set(new IdempotentReplayBody(JsonSerializer.SerializeToUtf8Bytes(
            response with { ClientSecret = null, CardEntryUrl = null }, PaymentsJson.Options)));
        await Send.ResponseAsync(response, StatusCodes.Status201Created, ct);
    }
}
