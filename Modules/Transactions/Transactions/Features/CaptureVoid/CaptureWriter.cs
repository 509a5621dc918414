using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Data;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.CaptureVoid;

/// <summary>
/// Captures and voids in groups (docs/adr/0036), written by <see cref="CaptureVoidData.GroupAsync"/>. Nothing is
/// written twice: a group that failed before its commit was sent wrote nothing, and one whose connection broke after
/// asks PostgreSQL whether that transaction committed before any of its changes is written again.
/// </summary>
internal sealed class CaptureWriter(CaptureVoidData data, IOptions<TransactionsOptions> options, ILogger<CaptureWriter> logger)
    : GroupCommitWriter<CaptureChange, Changed>("captures", logger)
{
    protected override GroupCommitSettings Settings => new(options.Value.CaptureGroupMax, options.Value.GroupCommitsInFlight);

    protected override Task<Changed?[]> WriteGroupAsync(IReadOnlyList<CaptureChange> group) => data.GroupAsync(group);

    protected override Task<Changed> WriteAloneAsync(CaptureChange change, bool afterFailedGroup) =>
        data.CaptureOrVoidAsync(change, CancellationToken.None);
}
