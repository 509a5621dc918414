using System.Globalization;
using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.Webhooks.Data;

namespace Payments.Webhooks.Features.ListEvents;

/// <summary>
/// <c>GET /v1/events?after_sequence=N&amp;limit=L</c>: the merchant's events with a greater sequence, oldest first
/// (<c>after_sequence</c> default 0, <c>limit</c> 1–100, default 100), as <c>{"data":[…],"has_more"}</c>. A merchant that
/// missed deliveries pages on with the last sequence it holds.
/// </summary>
internal sealed class ListEventsEndpoint(ICurrentMerchant merchant, WebhookStore store) : EndpointWithoutRequest
{
    public override void Configure()
    {
        Get("/v1/events");
        Options(b => b.WithMetadata(new QueryParametersAttribute("after_sequence", "limit")));
        Description(b => b.Produces(200, contentType: "application/json").ProducesProblem(400));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var after = Parse("after_sequence", 0, 0, long.MaxValue, errors);
        var limit = Parse("limit", 100, 1, 100, errors);
        if (errors.Count > 0)
        {
            throw new ProblemException(400, ErrorCodes.ValidationFailed, "The query is invalid.", errors);
        }
        var json = await store.ListEventsJsonAsync(merchant.Id, after, (int)limit, ct);
        HttpContext.Response.StatusCode = StatusCodes.Status200OK;
        HttpContext.Response.ContentType = "application/json";
        HttpContext.MarkResponseStart();
        await HttpContext.Response.Body.WriteAsync(json, ct);
    }

    private long Parse(string name, long fallback, long min, long max, Dictionary<string, string[]> errors)
    {
        var values = HttpContext.Request.Query[name];
        if (values.Count == 0)
        {
            return fallback;
        }
        if (values.Count > 1 || !long.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ||
            v < min || v > max)
        {
            // No 19-digit bound in the message: long.MaxValue is Luhn-valid, and answers must never echo a card-like number.
            errors[name] = [max == long.MaxValue ? $"Must be one integer, {min} or more." : $"Must be one integer from {min} to {max}."];
            return fallback;
        }
        return v;
    }
}
