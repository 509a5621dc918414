using FastEndpoints;
using Npgsql;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.VerifyHistory;

/// <summary><c>GET /v1/transactions/{trx_id}/history/verify</c>: recomputes the hash chain.</summary>
internal sealed class VerifyHistoryEndpoint(ICurrentMerchant merchant, NpgsqlDataSource db) : EndpointWithoutRequest<VerifyHistoryResponse>
{
    public override void Configure() => Get("/v1/transactions/{trx_id}/history/verify");

    public override async Task HandleAsync(CancellationToken ct)
    {
        var trxId = Route<string>("trx_id", isRequired: false);
        if (!PrefixedId.IsValid("trx", trxId))
        {
            throw TransactionAnswers.NotFound();
        }
        List<HistoryEntry> history;
        await using (var conn = await db.OpenConnectionAsync(ct))
        {
            _ = await TransactionRows.ReadAsync(conn, null, merchant.Id, trxId!, ct) ?? throw TransactionAnswers.NotFound();
            history = await TransactionRows.ReadHistoryAsync(conn, null, trxId!, ct);
        }
        var broken = HistoryChain.FirstBroken(trxId!, history);
        await Send.OkAsync(new VerifyHistoryResponse(trxId!, broken is null && history.Count > 0, history.Count, broken), ct);
    }
}

internal sealed record VerifyHistoryResponse(string TrxId, bool Valid, int Entries, int? FirstBrokenSeq);
