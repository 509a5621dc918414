using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Http;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.Lookup;

/// <summary>
/// <c>GET /v1/transactions/lookup?id_type=external_id|order_id&amp;id=VALUE</c>: one payment; for order_id the latest
/// created (ties: the greatest trx_id), whatever its status, and so for an external_id an intent's payments share.
/// </summary>
internal sealed class LookupEndpoint(ICurrentMerchant merchant, LookupData data) : EndpointWithoutRequest
{
    public override void Configure()
    {
        Get("/v1/transactions/lookup");
        Options(b => b.WithMetadata(new QueryParametersAttribute("id_type", "id")));
        Description(b => b.Produces<TransactionSnapshot>(200).ProducesProblem(400).ProducesProblem(404));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        var query = HttpContext.Request.Query;
        var errors = new Dictionary<string, string[]>();
        var idType = query["id_type"].ToString();
        var id = query["id"].ToString();
        if (query["id_type"].Count != 1 || idType is not ("external_id" or "order_id"))
        {
            errors["id_type"] = ["Must be external_id or order_id."];
        }
        if (query["id"].Count != 1 || id.Length == 0)
        {
            errors["id"] = ["Is required."];
        }
        if (errors.Count > 0)
        {
            throw new ProblemException(400, ErrorCodes.ValidationFailed, "One or more query parameters are not valid.", errors);
        }
        var t = await data.LookupAsync(merchant.Id, idType, id, ct) ?? throw TransactionAnswers.NotFound();
        await TransactionAnswers.WriteAsync(HttpContext, StatusCodes.Status200OK, Changes.Serialize(t), t.Version, ct);
    }
}
