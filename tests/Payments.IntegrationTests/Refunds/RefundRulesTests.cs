using Payments.BuildingBlocks.Http;
using Payments.Refunds.Domain;
using Payments.Transactions.Contracts;

namespace Payments.IntegrationTests.Refunds;

/// <summary>The refund rules alone, on payments in every shape: no server needed.</summary>
public sealed class RefundRulesTests
{
    private static TransactionSnapshot Payment(long order = 1000, long captured = 1000, long voided = 0, long refunded = 0,
        long chargedBack = 0, string type = TransactionTypes.Payment, string status = TransactionStatuses.Captured, long version = 3,
        long reserved = 0) =>
        new("trx_01J5XCMDXCFXCAQ1BV8HVG6644", type, status, order, "USD", captured, voided, 0, refunded, chargedBack,
            "ord-1", null, null, null, null, null, null, refunded + chargedBack > captured, DateTimeOffset.UnixEpoch,
            DateTimeOffset.UnixEpoch) { Version = version, RefundReserved = reserved };

    private static ProblemException Refusal(TransactionSnapshot payment, long? amount, IfMatchCondition? ifMatch = null) =>
        Assert.Throws<ProblemException>(() => RefundRules.AmountToReserve(payment, amount, ifMatch, mayWait: true));

    [Fact]
    public void No_amount_means_captured_less_refunded_less_charged_back() =>
        Assert.Equal(550, RefundRules.AmountToReserve(Payment(captured: 1000, refunded: 300, chargedBack: 150), null, null, mayWait: true));

    [Fact]
    public void An_amount_up_to_the_refundable_is_accepted()
    {
        Assert.Equal(700, RefundRules.AmountToReserve(Payment(refunded: 300), 700, null, mayWait: true));
        Assert.Equal(1, RefundRules.AmountToReserve(Payment(refunded: 300), 1, null, mayWait: true));
    }

    [Fact]
    public void More_than_refundable_is_amount_exceeds_refundable()
    {
        var p = Refusal(Payment(refunded: 300), 701);
        Assert.Equal(422, p.Status);
        Assert.Equal(ErrorCodes.AmountExceedsRefundable, p.Code);
    }

    [Fact]
    public void Nothing_left_to_refund_is_amount_exceeds_refundable_with_or_without_an_amount()
    {
        Assert.Equal(ErrorCodes.AmountExceedsRefundable, Refusal(Payment(refunded: 1000), null).Code);
        Assert.Equal(ErrorCodes.AmountExceedsRefundable, Refusal(Payment(refunded: 600, chargedBack: 400), 1).Code);
        // Over-recovered by a chargeback: nothing refundable, never a negative refund.
        Assert.Equal(ErrorCodes.AmountExceedsRefundable, Refusal(Payment(refunded: 800, chargedBack: 500), null).Code);
    }

    [Theory]
    [InlineData(TransactionStatuses.Authorized)]
    [InlineData(TransactionStatuses.Declined)]
    [InlineData(TransactionStatuses.Voided)]
    [InlineData(TransactionStatuses.Expired)]
    public void A_payment_with_nothing_captured_is_invalid_state_whatever_the_amount(string status)
    {
        var p = Refusal(Payment(captured: 0, status: status), 999_999);
        Assert.Equal(409, p.Status);
        Assert.Equal(ErrorCodes.InvalidState, p.Code);
    }

    [Theory]
    [InlineData(TransactionTypes.Refund)]
    [InlineData(TransactionTypes.Chargeback)]
    public void A_refund_or_chargeback_cannot_be_refunded(string type) =>
        Assert.Equal(ErrorCodes.InvalidState, Refusal(Payment(captured: 0, type: type), 10).Code);

    [Fact]
    public void A_stale_If_Match_is_precondition_failed_before_anything_else()
    {
        Assert.Equal(412, Refusal(Payment(captured: 0, version: 4), 10, ifMatch: new([3])).Status);
        Assert.Equal(412, Refusal(Payment(version: 4), 10, ifMatch: new([])).Status);
        Assert.Equal(10, RefundRules.AmountToReserve(Payment(version: 4), 10, new([4]), mayWait: true));
        // A list holds when any version it names is the payment's.
        Assert.Equal(10, RefundRules.AmountToReserve(Payment(version: 4), 10, new([3, 4]), mayWait: true));
    }

    [Fact]
    public void A_refund_that_fits_beside_the_refunds_in_flight_is_reserved_at_once() =>
        Assert.Equal(300, RefundRules.AmountToReserve(Payment(refunded: 100, reserved: 600), 300, null, mayWait: true));

    [Fact]
    public void A_refund_whose_answer_depends_on_refunds_in_flight_waits_for_them()
    {
        // Fits only if one in flight is declined; "all still refundable"; If-Match (their booking changes the version).
        Assert.Null(RefundRules.AmountToReserve(Payment(reserved: 600), 500, null, mayWait: true));
        Assert.Null(RefundRules.AmountToReserve(Payment(reserved: 600), null, null, mayWait: true));
        Assert.Null(RefundRules.AmountToReserve(Payment(reserved: 600), 100, new([3]), mayWait: true));
        // More than captured − refunded − charged back is refused at once, whatever is in flight.
        Assert.Equal(ErrorCodes.AmountExceedsRefundable, Refusal(Payment(refunded: 500, reserved: 200), 501).Code);
    }

    [Fact]
    public void After_the_wait_refunds_still_in_flight_count_as_made()
    {
        var exceeds = Assert.Throws<ProblemException>(() => RefundRules.AmountToReserve(Payment(reserved: 600), 500, null, mayWait: false));
        Assert.Equal(ErrorCodes.AmountExceedsRefundable, exceeds.Code);
        Assert.Equal(400, RefundRules.AmountToReserve(Payment(reserved: 600), null, null, mayWait: false));
        Assert.Equal(ErrorCodes.AmountExceedsRefundable,
            Assert.Throws<ProblemException>(() => RefundRules.AmountToReserve(Payment(reserved: 1000), null, null, mayWait: false)).Code);
        Assert.Equal(412, Assert.Throws<ProblemException>(() => RefundRules.AmountToReserve(Payment(reserved: 600), 100, new([3]), mayWait: false)).Status);
    }
}
