using FastEndpoints;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks.Ids;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.VerifyHistory;

/// <summary><c>GET /v1/transactions/{trx_id}/history/verify</c>: recomputes the hash chain.</summary>
internal sealed class VerifyHistoryEndpoint(ICurrentMerchant merchant, TransactionStore store) : EndpointWithoutRequest<VerifyHistoryResponse>
{
    public override void Configure() => Get("/v1/transactions/{trx_id}/history/verify");

    public override async Task HandleAsync(CancellationToken ct)
    {
        var trxId = Route<string>("trx_id", isRequired: false);
        var t = (PrefixedId.IsValid("trx", trxId) ? await store.GetAsync(merchant.Id, trxId!, withHistory: false, ct) : null)
                ?? throw TransactionAnswers.NotFound();
        var history = await store.GetHistoryAsync(t.TrxId, ct);
        var broken = HistoryChain.FirstBroken(t.TrxId, history);
        await Send.OkAsync(new VerifyHistoryResponse(t.TrxId, broken is null && history.Count > 0, history.Count, broken), ct);
    }
}

internal sealed record VerifyHistoryResponse(string TrxId, bool Valid, int Entries, int? FirstBrokenSeq);
