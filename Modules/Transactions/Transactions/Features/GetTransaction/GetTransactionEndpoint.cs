using FastEndpoints;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.GetTransaction;

/// <summary><c>GET /v1/transactions/{trx_id}</c>: any type, with its history and a strong ETag (the version).</summary>
internal sealed class GetTransactionEndpoint(ICurrentMerchant merchant, NpgsqlDataSource db) : EndpointWithoutRequest
{
    public override void Configure()
    {
        Get("/v1/transactions/{trx_id}");
        Description(b => b.Produces<TransactionSnapshot>(200).ProducesProblem(404));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        var trxId = Route<string>("trx_id", isRequired: false);
        // A malformed id is as unknown as a well-formed one that is not there.
        if (!PrefixedId.IsValid("trx", trxId))
        {
            throw TransactionAnswers.NotFound();
        }
        TransactionSnapshot t;
        await using (var conn = await db.OpenConnectionAsync(ct))
        {
            var row = await TransactionRows.ReadAsync(conn, null, merchant.Id, trxId!, ct) ?? throw TransactionAnswers.NotFound();
            t = row.Snapshot with { History = await TransactionRows.ReadHistoryAsync(conn, null, trxId!, ct) };
        }
        await TransactionAnswers.WriteAsync(HttpContext, StatusCodes.Status200OK, Changes.Serialize(t), t.Version, ct);
    }
}
