namespace Payments.Client.Tests.EndToEnd;

[Collection(LiveGatewayCollection.Name)]
public sealed class ClientAgainstGatewayTests(LiveGatewayFixture gateway)
{
    // Twelve hex characters: never 13 digits in a row, which the gateway would rightly refuse as a card number.
    private static string NewOrderId() => "ord-" + Guid.NewGuid().ToString("N")[..12];

    private async Task<PaymentsClient> NewMerchantClientAsync() =>
        gateway.ClientFor(await gateway.CreateMerchantAsync("client-tests"));

    [Fact]
    public async Task Tokenize_authorize_capture_in_parts_and_read_back()
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);

        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 1000, "USD", card, NewOrderId()));
        var first = await client.CaptureAsync(trx.TrxId, 400);
        var rest = await client.CaptureAsync(trx.TrxId);
        var read = await client.GetTransactionAsync(trx.TrxId);

        Assert.Equal(TransactionStatus.Authorized, trx.Status);
        Assert.Equal(TransactionStatus.PartialCaptured, first.Status);
        Assert.Equal(TransactionStatus.Captured, rest.Status);
        Assert.Equal(1000, read.CapturedAmount);
        Assert.Equal(0, read.Remaining);
        Assert.NotNull(read.Response!.ETag);
        Assert.Equal(["AUTHORIZE", "CAPTURE", "CAPTURE"], read.History!.Select(h => h.Operation));
        Assert.Equal("4242", read.Card!.Last4);
    }

    [Fact]
    public async Task Repeating_a_capture_with_the_same_key_replays_it_instead_of_capturing_twice()
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);
        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 1000, "USD", card, NewOrderId()));
        var key = new RequestOptions { IdempotencyKey = "capture-" + trx.TrxId };

        var once = await client.CaptureAsync(trx.TrxId, 300, key);
        var again = await client.CaptureAsync(trx.TrxId, 300, key);

        Assert.False(once.Response!.IdempotentReplayed);
        Assert.True(again.Response!.IdempotentReplayed);
        Assert.Equal(300, (await client.GetTransactionAsync(trx.TrxId)).CapturedAmount);
    }

    [Fact]
    public async Task Capturing_more_than_remains_is_a_typed_unprocessable_error_with_a_request_id()
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);
        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 500, "EUR", card, NewOrderId()));

        var e = await Assert.ThrowsAsync<PaymentsUnprocessableException>(() => client.CaptureAsync(trx.TrxId, 501));

        Assert.Equal("amount_exceeds_remaining", e.Code);
        Assert.False(string.IsNullOrEmpty(e.RequestId));
        Assert.Equal(0, (await client.GetTransactionAsync(trx.TrxId)).CapturedAmount);
    }

    [Fact]
    public async Task Voiding_the_rest_then_capturing_is_an_invalid_state_conflict()
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);
        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 800, "USD", card, NewOrderId()));

        var voided = await client.VoidAsync(trx.TrxId);
        var e = await Assert.ThrowsAsync<PaymentsConflictException>(() => client.CaptureAsync(trx.TrxId, 1));

        Assert.Equal(TransactionStatus.Voided, voided.Status);
        Assert.Equal("invalid_state", e.Code);
    }

    [Fact]
    public async Task A_bad_field_is_a_validation_error_naming_the_field()
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);

        var e = await Assert.ThrowsAsync<PaymentsValidationException>(() => client.CreateTransactionAsync(
            CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 0, "USD", card, NewOrderId())));

        Assert.Equal(400, e.Status);
        Assert.Contains(e.Errors.Keys, k => k.Contains("amount", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_declined_card_is_a_declined_transaction_not_an_exception()
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client, "4000000000000002");

        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 700, "USD", card, NewOrderId()));

        Assert.Equal(TransactionStatus.Declined, trx.Status);
        Assert.Equal("card_declined", trx.DeclineCode);
    }

    [Fact]
    public async Task An_unknown_transaction_is_not_found()
    {
        using var client = await NewMerchantClientAsync();

        var e = await Assert.ThrowsAsync<PaymentsNotFoundException>(() => client.GetTransactionAsync("trx_01J5XCMDXCFXCAQ1BV8HVG6644"));

        Assert.Equal("not_found", e.Code);
    }

    [Fact]
    public async Task Wrong_credentials_are_invalid_client()
    {
        var keys = await gateway.CreateMerchantAsync("client-tests");
        using var client = gateway.ClientFor(keys, secret: "not-the-secret");

        var e = await Assert.ThrowsAsync<PaymentsAuthenticationException>(() => client.GetTransactionAsync("trx_01J5XCMDXCFXCAQ1BV8HVG6644"));

        Assert.Equal("invalid_client", e.Code);
    }

    [Fact]
    public async Task After_its_token_is_revoked_the_client_fetches_a_new_one_by_itself()
    {
        using var client = await NewMerchantClientAsync();
        var before = await client.GetAccessTokenAsync();

        await client.RevokeTokenAsync();
        var e = await Assert.ThrowsAsync<PaymentsNotFoundException>(() => client.GetTransactionAsync("trx_01J5XCMDXCFXCAQ1BV8HVG6644"));
        var after = await client.GetAccessTokenAsync();

        Assert.Equal("not_found", e.Code);
        Assert.NotEqual(before, after);
    }

    [Fact]
    public async Task Lookup_and_listing_find_the_payment_and_paging_pins_as_of()
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);
        var orderId = NewOrderId();
        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authcap, 1200, "USD", card, orderId, orderId + "-x"));
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        var query = new ListTransactionsRequest { StartDate = today, EndDate = today.AddDays(1), SortBy = "created_at" };

        var byExternal = await client.LookupTransactionAsync(LookupIdType.ExternalId, orderId + "-x");
        var byOrder = await client.LookupTransactionAsync(LookupIdType.OrderId, orderId);
        var first = await client.ListTransactionsAsync(query);
        var later = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 100, "USD", card, NewOrderId()));
        var pinned = await client.ListTransactionsAsync(new ListTransactionsRequest { StartDate = today, EndDate = today.AddDays(1), SortBy = "created_at", AsOf = first.AsOf });
        var all = new List<string>();
        await foreach (var t in client.ListAllTransactionsAsync(query))
        {
            all.Add(t.TrxId);
        }

        Assert.Equal(TransactionStatus.Captured, trx.Status);
        Assert.Equal(trx.TrxId, byExternal.TrxId);
        Assert.Equal(trx.TrxId, byOrder.TrxId);
        Assert.Contains(first.Data, t => t.TrxId == trx.TrxId);
        Assert.DoesNotContain(pinned.Data, t => t.TrxId == later.TrxId);
        Assert.Equal(first.Total, pinned.Total);
        Assert.Equal([trx.TrxId, later.TrxId], all);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("DESC")]
    public async Task Listing_all_pages_while_payments_change_yields_each_payment_once(string? direction)
    {
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);
        var created = new List<string>();
        for (var i = 0; i < 15; i++)
        {
            created.Add((await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 1000, "USD", card, NewOrderId()))).TrxId);
        }
        var today = DateOnly.FromDateTime(DateTime.UtcNow);

        // A caller that asks for nothing particular, pages of 10; between the first page and the second, 1 unit is
        // voided on payments (changing their updated_at, the list's default sort): ascending, on those already read;
        // descending, on those not read yet. Either moves rows across the page boundary under updated_at.
        var seen = new List<string>();
        await foreach (var t in client.ListAllTransactionsAsync(new ListTransactionsRequest { StartDate = today, EndDate = today.AddDays(1), Limit = 10, SortDirection = direction }))
        {
            seen.Add(t.TrxId);
            if (seen.Count == 10)
            {
                foreach (var id in direction is null ? seen.ToList() : created.Except(seen).ToList())
                {
                    await client.VoidAsync(id, 1);
                }
            }
        }

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(created.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_declined_payment_and_a_refund_have_nothing_remaining_to_capture_or_void()
    {
        using var client = await NewMerchantClientAsync();
        var declinedCard = await gateway.TokenizeAsync(client, "4000000000000002");
        var card = await gateway.TokenizeAsync(client);

        var declined = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 700, "USD", declinedCard, NewOrderId()));
        var paid = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 1000, "USD", card, NewOrderId()));
        var captured = await client.CaptureAsync(paid.TrxId, 600);
        var refund = await client.RefundAsync(paid.TrxId, new CreateRefundRequest { Amount = 100 });
        var captureDeclined = await Assert.ThrowsAsync<PaymentsConflictException>(() => client.CaptureAsync(declined.TrxId, 1));

        Assert.Equal(TransactionStatus.Declined, declined.Status);
        Assert.Equal(0, declined.Remaining);
        Assert.Equal("invalid_state", captureDeclined.Code);
        Assert.Equal(400, captured.Remaining);
        Assert.Equal(TransactionType.Refund, refund.Type);
        Assert.Equal(0, refund.Remaining);
        Assert.Equal(0, (await client.GetTransactionAsync(refund.TrxId)).Remaining);
    }

    [Fact]
    public async Task Events_come_in_pages_that_say_whether_more_follow_and_a_redelivery_says_what_it_queued()
    {
        using var client = await NewMerchantClientAsync();
        await client.CreateWebhookEndpointAsync(new CreateWebhookEndpointRequest { Url = "http://127.0.0.1:9/hooks", EnabledEvents = ["*"] });
        var card = await gateway.TokenizeAsync(client);
        for (var i = 0; i < 3; i++)
        {
            await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 500, "USD", card, NewOrderId()));
        }

        // Events are written with each change and published shortly after: wait for the three authorizations, and for
        // the card's tokenization event, which the Host's feed records within a poll (else it could land between the
        // listing and the last page read below).
        var all = new List<WebhookEvent>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((all.Count(e => e.Type == "transaction.authorized") < 3 || !all.Any(e => e.Type == "tokenization_intent.succeeded"))
               && DateTime.UtcNow < deadline)
        {
            all.Clear();
            await foreach (var e in client.ListAllEventsAsync(limit: 2))
            {
                all.Add(e);
            }
        }
        var first = await client.ListEventsAsync(limit: 2);
        var last = await client.ListEventsAsync(afterSequence: all[^2].Sequence, limit: 2);
        var redelivery = await client.RedeliverEventAsync(first.Data[0].Id);

        Assert.Equal(3, all.Count(e => e.Type == "transaction.authorized"));
        Assert.Equal(all.Select(e => e.Sequence).Order(), all.Select(e => e.Sequence));
        Assert.Equal(all.Count, all.Select(e => e.Id).Distinct().Count());
        Assert.Equal(2, first.Data.Count);
        Assert.True(first.HasMore);
        Assert.Equal(all[^1].Id, Assert.Single(last.Data).Id);
        Assert.False(last.HasMore);
        Assert.Equal(first.Data[0].Id, redelivery.EventId);
        Assert.Equal(1, redelivery.Deliveries);
    }

    [Fact]
    public async Task A_refund_is_a_new_refund_transaction_and_grows_the_payments_refunded_amount()
    {
        Assert.True(gateway.HasRefundsRoute(), "The refunds route (POST /v1/transactions/{trx_id}/refunds) is not in this Host yet.");
        using var client = await NewMerchantClientAsync();
        var card = await gateway.TokenizeAsync(client);
        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForCard(TransactionOperation.Authcap, 1000, "USD", card, NewOrderId()));

        var refund = await client.RefundAsync(trx.TrxId, new CreateRefundRequest { Amount = 250, Reason = "returned" });
        var tooMuch = await Assert.ThrowsAsync<PaymentsUnprocessableException>(() => client.RefundAsync(trx.TrxId, new CreateRefundRequest { Amount = 751 }));
        var payment = await client.GetTransactionAsync(trx.TrxId);

        Assert.Equal(TransactionType.Refund, refund.Type);
        Assert.Equal(trx.TrxId, refund.ParentTrxId);
        Assert.Equal(250, refund.OrderAmount);
        Assert.Equal("amount_exceeds_refundable", tooMuch.Code);
        Assert.Equal(250, payment.RefundedAmount);
    }
}
