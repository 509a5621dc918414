using System.Net;
using Npgsql;
using Payments.TestKit;
using Payments.Vault.Contracts;
using static Payments.IntegrationTests.Refunds.RefundApi;

namespace Payments.IntegrationTests.Refunds;

/// <summary>
/// A refund holds no lock while the acquirer is asked (docs/adr/0082): what it takes is a reservation, so other work on
/// the payment goes on, refunds through other Hosts are with the Vault at the same time, and the database still keeps
/// them all within what is refundable. The Vault calls are held at a gate, so "in flight" is a fact, not a timing.
/// </summary>
[Collection(RefundsCollection.Name)]
public sealed class RefundInFlightTests(RefundsFixture gateway)
{
    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_refund_waiting_on_the_Vault_holds_no_lock_on_the_payment_and_does_not_show_until_booked()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000, capture: false), "trx_id");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(merchant.Http, $"/v1/transactions/{paymentId}", new { operation = "capture", amount = 600 })).Status);
        var gate = new VaultGate();
        await using var slow = gateway.HostWithVault(v => new GatedVault(v, gate));
        using var slowHttp = slow.CreateClientFor(merchant);
        var (_, _, before) = await SendAsync(merchant.Http, HttpMethod.Get, $"/v1/transactions/{paymentId}");

        var refund = RefundAsync(slowHttp, paymentId, 200);
        try
        {
            Assert.True(await gate.ArrivalAsync(Arrival), "the refund never reached the Vault");

            // The payment's row can be locked at once by anyone else...
            await using (var conn = new NpgsqlConnection(gateway.HostConnectionString))
            {
                await conn.OpenAsync();
                await using var tx = await conn.BeginTransactionAsync();
                await using var cmd = new NpgsqlCommand("SELECT 1 FROM transactions.transactions WHERE trx_id = $1 FOR UPDATE NOWAIT", conn, tx);
                cmd.Parameters.Add(new NpgsqlParameter { Value = paymentId });
                var locked = await Record.ExceptionAsync(() => cmd.ExecuteScalarAsync());
                Assert.True(locked is null, $"the payment's row is locked while its refund waits on the Vault: {locked?.Message}");
                await tx.RollbackAsync();
            }
            // ...readers see the payment as it was (the reservation is not part of it, nor of its ETag)...
            var (_, during, duringResponse) = await SendAsync(merchant.Http, HttpMethod.Get, $"/v1/transactions/{paymentId}");
            Assert.Equal(0, Long(during, "refunded_amount"));
            Assert.Equal(before.Headers.ETag, duringResponse.Headers.ETag);
            // ...and a capture on it is answered, not queued behind the refund.
            var capture = PostAsync(merchant.Http, $"/v1/transactions/{paymentId}", new { operation = "capture", amount = 100 });
            Assert.Same(capture, await Task.WhenAny(capture, Task.Delay(TimeSpan.FromSeconds(15))));
            Assert.Equal(HttpStatusCode.OK, (await capture).Status);
            Assert.False(refund.IsCompleted);
        }
        finally
        {
            gate.Open();
        }

        var (status, body, _) = await refund;
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(200, Long(body, "order_amount"));
        var payment = await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}");
        Assert.Equal(700, Long(payment, "captured_amount"));
        Assert.Equal(200, Long(payment, "refunded_amount"));
        Assert.Equal(0, await gateway.ScalarAsync("SELECT refund_reserved_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
    }

    [Fact]
    public async Task Refunds_of_one_payment_through_one_Host_that_fit_together_are_with_the_Vault_at_once()
    {
        // Until 2026-12-05 a Host's refunds of one payment took turns through the acquirer call as well, so a burst on
        // one payment was a queue of Vault calls, and admission control shed its tail with 503 overloaded.
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var gate = new VaultGate();
        await using var host = gateway.HostWithVault(v => new GatedVault(v, gate));
        using var http = host.CreateClientFor(merchant);

        var refunds = new[] { RefundAsync(http, paymentId, 300), RefundAsync(http, paymentId, 300), RefundAsync(http, paymentId, 300) };
        try
        {
            for (var i = 0; i < refunds.Length; i++)
            {
                Assert.True(await gate.ArrivalAsync(Arrival), $"{i} of 3 refunds reached the Vault while the others were there");
            }
        }
        finally
        {
            gate.Open();
        }

        Assert.All(await Task.WhenAll(refunds), r => Assert.Equal(HttpStatusCode.Created, r.Status));
        Assert.Equal(900, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(0, await gateway.ScalarAsync("SELECT refund_reserved_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
    }

    [Fact]
    public async Task Refunds_through_two_Hosts_are_with_the_Vault_at_once_and_one_that_would_exceed_them_is_refused()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var (gateA, gateB) = (new VaultGate(), new VaultGate());
        await using var hostA = gateway.HostWithVault(v => new GatedVault(v, gateA));
        await using var hostB = gateway.HostWithVault(v => new GatedVault(v, gateB));
        using var httpA = hostA.CreateClientFor(merchant);
        using var httpB = hostB.CreateClientFor(merchant, expectRefusals: true);

        var first = RefundAsync(httpA, paymentId, 600);
        Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode? Body, HttpResponseMessage Response)> second, third;
        try
        {
            Assert.True(await gateA.ArrivalAsync(Arrival), "the first refund never reached the Vault");
            second = RefundAsync(httpB, paymentId, 300);
            // Both are with the Vault at the same time: nothing serializes them but the amounts.
            Assert.True(await gateB.ArrivalAsync(Arrival), "the second refund did not reach the Vault while the first was there");
            // 200 more would exceed the 1000 captured unless one in flight is declined: it waits for them.
            third = RefundAsync(merchant.Http, paymentId, 200);
            Assert.False(await Task.WhenAny(third, Task.Delay(TimeSpan.FromSeconds(1))) == third, "answered before the refunds in flight were");
        }
        finally
        {
            gateA.Open();
            gateB.Open();
        }

        Assert.Equal(HttpStatusCode.Created, (await first).Status);
        Assert.Equal(HttpStatusCode.Created, (await second).Status);
        var (refused, problem, _) = await third;
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        Assert.Equal("amount_exceeds_refundable", Code(problem));
        Assert.Equal(900, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(2, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND'", paymentId));
        Assert.Equal(0, await gateway.ScalarAsync("SELECT refund_reserved_amount FROM transactions.transactions WHERE trx_id = $1", paymentId));
    }

    [Fact]
    public async Task Two_refunds_on_two_Hosts_that_together_exceed_the_refundable_amount_one_succeeds_and_the_other_is_refused()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var (gateA, gateB) = (new VaultGate(), new VaultGate());
        await using var hostA = gateway.HostWithVault(v => new GatedVault(v, gateA));
        await using var hostB = gateway.HostWithVault(v => new GatedVault(v, gateB));
        using var httpA = hostA.CreateClientFor(merchant, expectRefusals: true);
        using var httpB = hostB.CreateClientFor(merchant, expectRefusals: true);

        var first = RefundAsync(httpA, paymentId, 600);
        Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode? Body, HttpResponseMessage Response)> second;
        try
        {
            Assert.True(await gateA.ArrivalAsync(Arrival), "the first refund never reached the Vault");
            second = RefundAsync(httpB, paymentId, 600);
            // The second never reaches the Vault while the first may still be approved.
            Assert.False(await gateB.ArrivalAsync(TimeSpan.FromSeconds(1)));
            Assert.False(second.IsCompleted);
        }
        finally
        {
            gateA.Open();
            gateB.Open();
        }

        var statuses = new[] { (await first).Status, (await second).Status };
        Assert.Equal(new[] { HttpStatusCode.Created, HttpStatusCode.UnprocessableEntity }, statuses);
        Assert.Equal("amount_exceeds_refundable", Code((await second).Body));
        Assert.Equal(0, gateB.Arrived);
        Assert.Equal(600, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
        Assert.Equal(1, await gateway.ScalarAsync(
            "SELECT count(*) FROM transactions.transactions WHERE parent_trx_id = $1 AND type = 'REFUND'", paymentId));
    }

    [Fact]
    public async Task A_refund_that_fits_only_if_the_one_in_flight_is_declined_waits_for_it_and_then_succeeds()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var paymentId = Str(await gateway.PaymentAsync(merchant, 1000), "trx_id");
        var gate = new VaultGate();
        // A stand-in acquirer that refuses the first refund.
        await using var declining = gateway.HostWithVault(v => new GatedVault(v, gate, _ => new AcquirerOutcome(true, false, null, "refund_refused", null, null)));
        using var decliningHttp = declining.CreateClientFor(merchant);

        var first = RefundAsync(decliningHttp, paymentId, 600);
        Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode? Body, HttpResponseMessage Response)> second;
        try
        {
            Assert.True(await gate.ArrivalAsync(Arrival), "the first refund never reached the Vault");
            second = RefundAsync(merchant.Http, paymentId, 600);
            Assert.False(await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(1))) == second, "answered before the refund in flight was");
        }
        finally
        {
            gate.Open();
        }

        var (declined, declinedBody, _) = await first;
        Assert.Equal(HttpStatusCode.Created, declined);
        Assert.Equal("DECLINED", Str(declinedBody, "status"));
        Assert.Equal(HttpStatusCode.Created, (await second).Status);
        Assert.Equal("CAPTURED", Str((await second).Body, "status"));
        Assert.Equal(600, Long(await GetAsync(merchant.Http, $"/v1/transactions/{paymentId}"), "refunded_amount"));
    }
}
