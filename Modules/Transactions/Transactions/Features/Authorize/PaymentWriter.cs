using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.Authorize;

/// <summary>
/// New payments in groups (docs/adr/0036): a group is written set-based, a statement per table over all its payments
/// (<see cref="PaymentStatements.Group"/>), in one implicit transaction.
/// </summary>
/// <remarks>
/// A group that fails rolled back as a whole, or, if its connection broke, may have committed. Each payment is then
/// written again alone: one payment's refusal (its external_id taken, its claim lost) is its own, and a payment the
/// group did book is recognised by its trx_id (a ULID this request made) and answered as booked, never booked twice.
/// </remarks>
internal sealed class PaymentWriter(NpgsqlDataSource db, IOptions<TransactionsOptions> options, ILogger<PaymentWriter> logger)
    : GroupCommitWriter<PaymentInsert, Changed>("payments", logger)
{
    protected override GroupCommitSettings Settings => new(options.Value.PaymentGroupMax, options.Value.GroupCommitsInFlight);

    protected override async Task<Changed?[]> WriteGroupAsync(IReadOnlyList<PaymentInsert> group)
    {
        await using (var batch = db.CreateBatch())
        {
            foreach (var command in PaymentStatements.Group(group))
            {
                batch.BatchCommands.Add(command);
            }
            await batch.ExecuteNonQueryAsync(CancellationToken.None);
        }
        return [.. group.Select(Booked)];
    }

    protected override async Task<Changed> WriteAloneAsync(PaymentInsert insert, bool afterFailedGroup)
    {
        await using var batch = db.CreateBatch();
        foreach (var command in PaymentStatements.One(insert))
        {
            batch.BatchCommands.Add(command);
        }
        try
        {
            await batch.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (PostgresException e) when (PaymentStatements.Refusal(e) is { } refusal)
        {
            throw refusal;
        }
        catch (PostgresException e) when (afterFailedGroup && e is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "transactions_pkey" })
        {
            // The group's commit went through after all: it booked this payment with its history, events and answer.
            logger.LogInformation("A payment of a failed group was found booked by the group");
        }
        return Booked(insert);
    }

    private static Changed Booked(PaymentInsert insert)
    {
        insert.Claim?.MarkCommitted();
        return new Changed(insert.Final, insert.Body);
    }
}
