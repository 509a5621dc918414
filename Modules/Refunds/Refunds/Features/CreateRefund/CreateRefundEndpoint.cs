using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Ids;
using Payments.Refunds.Acquiring;
using Payments.Refunds.Concurrency;
using Payments.Refunds.Domain;
using Payments.Transactions.Contracts;

namespace Payments.Refunds.Features.CreateRefund;

/// <summary>
/// <c>POST /v1/transactions/{trx_id}/refunds</c>: a full or partial refund of a payment with something captured, as a new
/// <c>REFUND</c> transaction (docs/adr/0082). The ledger reserves the amount in one short transaction (the rules judged
/// on the briefly locked payment, the database refusing any excess over what is refundable on any number of Hosts),
/// the acquirer is asked with no transaction or lock open, and a second short transaction books the answer and
/// releases the reservation. A retry with the same Idempotency-Key resumes a reservation left pending; the recovery
/// sweep resolves those nobody retries.
/// </summary>
internal sealed class CreateRefundEndpoint(
    ICurrentMerchant merchant,
    IRefundLedger ledger,
    RefundCompletion completion,
    PaymentQueue queue,
    IOptions<RefundsOptions> options) : Endpoint<CreateRefundRequest>
{
    private static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestPoll = TimeSpan.FromMilliseconds(200);

    public override void Configure()
    {
        Post("/v1/transactions/{trx_id}/refunds");
        Options(b => b.WithMetadata(new IdempotentAttribute()));
        Description(b => b.Produces<TransactionSnapshot>(201).ProducesProblem(400).ProducesProblem(404)
            .ProducesProblem(409).ProducesProblem(412).ProducesProblem(422));
        Summary(s =>
        {
            s.Summary = "Refund a payment, fully or partially";
            s.Description = "Refunds part or all of what is still refundable (captured − refunded − charged back) of a payment " +
                            "with something captured. Several refunds per payment are allowed. A refund the acquirer " +
                            "refuses is recorded DECLINED with its decline_code and refunds nothing. If-Match takes the " +
                            "payment's ETag.";
        });
    }

    public override async Task HandleAsync(CreateRefundRequest req, CancellationToken ct)
    {
        var paymentTrxId = Route<string>("trx_id", isRequired: false);
        if (!PrefixedId.IsValid("trx", paymentTrxId))
        {
            throw NotFound();
        }
        var ifMatch = EntityTags.IfMatch(HttpContext);
        // Chosen here so the acquirer and the ledger know the refund by the same id. Without an Idempotency-Key it is
        // also the attempt key, so the recovery can ask the Vault about this very call.
        var refundTrxId = PrefixedId.New("trx");
        var request = new RefundReservationRequest(merchant.Id, paymentTrxId!, refundTrxId,
            HttpContext.IdempotencyClaim()?.OperationKey ?? refundTrxId, req.Reason);

        // This process's refunds of one payment reserve in turns (waiting may be given up: nothing happened yet), so a
        // burst does not queue on the row lock or poll the database; Hosts are kept apart by the reservations
        // themselves. The turn ends with the reservation: refunds that fit together then go to the acquirer at the
        // same time (ADR 82), so a burst on one payment is not a queue of acquirer calls that admission control sheds.
        RefundReservation reservation;
        using (await queue.EnterAsync(merchant.Id + "/" + paymentTrxId, ct))
        {
            reservation = await ReserveAsync(request, req.Amount, ifMatch, ct);
        }
        var recorded = reservation.Outcome switch
        {
            RefundReservationOutcome.NotFound => throw NotFound(),
            RefundReservationOutcome.Booked => reservation.Booked!,
            _ => await completion.CompleteAsync(reservation.Pending!, firstCall: reservation.Outcome == RefundReservationOutcome.Reserved),
        };

        var refund = recorded.Refund;
        // Written by hand (the bytes the ledger stored as the key's answer): tell FastEndpoints, or it would answer 204.
        HttpContext.MarkResponseStart();
        HttpContext.Response.StatusCode = StatusCodes.Status201Created;
        HttpContext.Response.ContentType = "application/json";
        HttpContext.Response.Headers.ETag = "\"" + refund.Version.ToString(CultureInfo.InvariantCulture) + "\"";
        await HttpContext.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(refund, PaymentsJson.Options), ct);
    }

    /// <summary>Reserves, waiting (without any lock or connection held) while the answer depends on refunds in flight.</summary>
    private async Task<RefundReservation> ReserveAsync(RefundReservationRequest request, long? amount, IfMatchCondition? ifMatch, CancellationToken ct)
    {
        var waited = Stopwatch.StartNew();
        var poll = FirstPoll;
        while (true)
        {
            var mayWait = waited.Elapsed < options.Value.InFlightWait;
            // Not cancelled by the client going away: a reservation that committed must be followed by its call.
            var reservation = await ledger.ReserveRefundAsync(request, p => RefundRules.AmountToReserve(p, amount, ifMatch, mayWait),
                CancellationToken.None);
            if (reservation.Outcome != RefundReservationOutcome.Wait)
            {
                return reservation;
            }
            await Task.Delay(poll, ct);
            poll = TimeSpan.FromTicks(Math.Min(poll.Ticks * 2, LongestPoll.Ticks));
        }
    }

    private static ProblemException NotFound() => ProblemException.NotFound("The transaction");
}
