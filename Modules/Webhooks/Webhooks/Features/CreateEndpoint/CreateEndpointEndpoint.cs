using System.Text.Json;
using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Webhooks.Data;
using Payments.Webhooks.Delivery;
using Payments.Webhooks.Secrets;

namespace Payments.Webhooks.Features.CreateEndpoint;

/// <summary>
/// <c>POST /v1/webhook-endpoints {"url","enabled_events"}</c>: 201 with the endpoint and its signing secret, shown this
/// once. The URL must pass the SSRF policy of the gateway's mode. With an <c>Idempotency-Key</c>, a replay answers the
/// same, secret included: the stored answer holds it only sealed (<see cref="AnswerSeal"/>), never in clear.
/// </summary>
internal sealed class CreateEndpointEndpoint(
    ICurrentMerchant merchant,
    WebhookStore store,
    SecretSealer sealer,
    AnswerSeal answerSeal,
    IOptions<GatewayOptions> gateway,
    TimeProvider clock) : Endpoint<CreateEndpointRequest>
{
    public override void Configure()
    {
        Post("/v1/webhook-endpoints");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<EndpointResponse>(201).ProducesProblem(400).ProducesProblem(409));
    }

    public override async Task HandleAsync(CreateEndpointRequest req, CancellationToken ct)
    {
        if (AddressPolicy.CheckUrl(req.Url!, gateway.Value.IsSandbox) is { } refusal)
        {
            throw ProblemException.Validation("url", refusal);
        }
        var row = new EndpointRow(PrefixedId.New("we", clock), req.Url!, [.. req.EnabledEvents!], "ENABLED", null, clock.UtcNowMicros());
        var secret = SecretSealer.NewSecret();
        var (nonce, sealedSecret) = sealer.Seal(row.Id, secret);

        var body = JsonSerializer.SerializeToUtf8Bytes(EndpointResponse.From(row, secret), PaymentsJson.Options);
        var replay = JsonSerializer.SerializeToUtf8Bytes(EndpointResponse.From(row, null), PaymentsJson.Options);
        var claim = HttpContext.IdempotencyClaim();
        var sealedAnswer = claim is null ? null : answerSeal.Seal(claim.MerchantId, claim.Key, body);
        if (!await store.CreateEndpointAsync(merchant.Id, row, nonce, sealedSecret, claim, replay, sealedAnswer, ct))
        {
            throw ProblemException.InvalidState($"A merchant may have at most {WebhookStore.MaxEndpointsPerMerchant} webhook endpoints.");
        }
        HttpContext.Features.Set(new IdempotentReplayBody(replay));
        HttpContext.Response.StatusCode = StatusCodes.Status201Created;
        HttpContext.Response.ContentType = "application/json";
        // Marked as sent: under the idempotency middleware the body is buffered, so the framework would not see it started.
        HttpContext.MarkResponseStart();
        await HttpContext.Response.Body.WriteAsync(body, ct);
    }
}
