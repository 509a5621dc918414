using Payments.BuildingBlocks.Http;
using Payments.Refunds.Domain;
using Payments.Transactions.Contracts;

namespace Payments.IntegrationTests.Refunds;

/// <summary>The refund rules alone, on payments in every shape: no server needed.</summary>
public sealed class RefundRulesTests
{
    private static TransactionSnapshot Payment(long order = 1000, long captured = 1000, long voided = 0, long refunded = 0,
        long chargedBack = 0, string type = TransactionTypes.Payment, string status = TransactionStatuses.Captured, long version = 3) =>
        new("trx_01J5XCMDXCFXCAQ1BV8HVG6644", type, status, order, "USD", captured, voided, 0, refunded, chargedBack,
            "ord-1", null, null, null, null, null, null, refunded + chargedBack > captured, DateTimeOffset.UnixEpoch,
            DateTimeOffset.UnixEpoch) { Version = version };

    private static ProblemException Refusal(TransactionSnapshot payment, long? amount, long? ifMatch = null) =>
        Assert.Throws<ProblemException>(() => RefundRules.AmountToRefund(payment, amount, ifMatch));

    [Fact]
    public void No_amount_means_captured_less_refunded_less_charged_back() =>
        Assert.Equal(550, RefundRules.AmountToRefund(Payment(captured: 1000, refunded: 300, chargedBack: 150), null, null));

    [Fact]
    public void An_amount_up_to_the_refundable_is_accepted()
    {
        Assert.Equal(700, RefundRules.AmountToRefund(Payment(refunded: 300), 700, null));
        Assert.Equal(1, RefundRules.AmountToRefund(Payment(refunded: 300), 1, null));
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
        Assert.Equal(412, Refusal(Payment(captured: 0, version: 4), 10, ifMatch: 3).Status);
        Assert.Equal(412, Refusal(Payment(version: 4), 10, ifMatch: -1).Status);
        Assert.Equal(10, RefundRules.AmountToRefund(Payment(version: 4), 10, 4));
    }
}
