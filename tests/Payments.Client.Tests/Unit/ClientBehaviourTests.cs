using System.Net;
using System.Text.Json;

namespace Payments.Client.Tests.Unit;

public sealed class ClientBehaviourTests
{
    private static readonly CreateTransactionRequest Authorize =
        CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 1050, "USD", "tok_1", "o-1");

    [Fact]
    public async Task A_problem_answer_becomes_a_typed_exception_with_status_code_errors_and_request_id()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Problem(400, "validation_failed",
            ""","errors":{"amount":["Amount must be at least 1."],"currency":["Unknown currency."]}"""));
        using var client = FakeHandler.ClientOver(handler);

        var e = await Assert.ThrowsAsync<PaymentsValidationException>(() => client.CreateTransactionAsync(Authorize));

        Assert.Equal(400, e.Status);
        Assert.Equal("validation_failed", e.Code);
        Assert.Equal("req_400", e.RequestId);
        Assert.Equal(["Amount must be at least 1."], e.Errors["amount"]);
        Assert.Equal(2, e.Errors.Count);
        Assert.NotNull(e.IdempotencyKey);
    }

    [Theory]
    [InlineData(404, "not_found", typeof(PaymentsNotFoundException))]
    [InlineData(409, "invalid_state", typeof(PaymentsConflictException))]
    [InlineData(412, "precondition_failed", typeof(PaymentsPreconditionFailedException))]
    [InlineData(422, "amount_exceeds_remaining", typeof(PaymentsUnprocessableException))]
    [InlineData(401, "invalid_client", typeof(PaymentsAuthenticationException))]
    public async Task Each_status_maps_to_its_exception_type(int status, string code, Type expected)
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Problem(status, code));
        using var client = FakeHandler.ClientOver(handler);

        var e = await Assert.ThrowsAnyAsync<PaymentsApiException>(() => client.CaptureAsync("trx_1", 100));

        Assert.IsType(expected, e);
        Assert.Equal(code, e.Code);
    }

    [Fact]
    public async Task A_body_that_is_not_a_problem_still_gives_a_typed_exception_with_the_header_request_id()
    {
        using var handler = new FakeHandler((_, _) =>
        {
            var r = new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("<html>nope</html>") };
            r.Headers.TryAddWithoutValidation("Request-Id", "req_html");
            return r;
        });
        using var client = FakeHandler.ClientOver(handler);

        var e = await Assert.ThrowsAsync<PaymentsNotFoundException>(() => client.GetTransactionAsync("trx_1"));

        Assert.Equal("not_found", e.Code);
        Assert.Equal("req_html", e.RequestId);
    }

    [Fact]
    public void The_token_error_field_is_read_as_the_code()
    {
        var parsed = ApiProblem.Parse(HttpStatusCode.Unauthorized, """{"status":401,"error":"invalid_client"}""");

        Assert.Equal("invalid_client", parsed.Code);
    }

    [Fact]
    public async Task The_same_idempotency_key_is_sent_on_every_retry_of_one_call()
    {
        using var handler = new FakeHandler((_, n) => n < 2
            ? FakeHandler.Problem(503, "service_unavailable")
            : FakeHandler.Json(HttpStatusCode.Created, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler);

        var trx = await client.CreateTransactionAsync(Authorize);

        var keys = handler.ApiRequests.Select(r => r.Headers["Idempotency-Key"]).ToList();
        Assert.Equal(3, keys.Count);
        Assert.Single(keys.Distinct());
        Assert.Equal(keys[0], trx.Response!.IdempotencyKey);
        Assert.Equal("trx_1", trx.TrxId);
    }

    [Fact]
    public async Task A_rate_limited_or_shed_write_is_retried_with_the_same_key()
    {
        using var handler = new FakeHandler((_, n) => n switch
        {
            0 => WithRetryAfter(FakeHandler.Problem(429, "rate_limited")),
            1 => WithRetryAfter(FakeHandler.Problem(503, "overloaded")),
            _ => FakeHandler.Json(HttpStatusCode.Created, FakeHandler.TransactionJson),
        });
        using var client = FakeHandler.ClientOver(handler);

        var trx = await client.CreateTransactionAsync(Authorize);

        var keys = handler.ApiRequests.Select(r => r.Headers["Idempotency-Key"]).ToList();
        Assert.Equal(3, keys.Count);
        Assert.Single(keys.Distinct());
        Assert.Equal("trx_1", trx.TrxId);

        static HttpResponseMessage WithRetryAfter(HttpResponseMessage response)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", "1");
            return response;
        }
    }

    private static HttpResponseMessage WithRetryAfter(HttpResponseMessage response, string seconds)
    {
        response.Headers.TryAddWithoutValidation("Retry-After", seconds);
        return response;
    }

    [Fact]
    public async Task A_dropped_connection_is_retried_with_the_same_key_and_body()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.OK, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler);
        await client.GetAccessTokenAsync();
        handler.FailConnections = 2;

        await client.CaptureAsync("trx_1", 500);

        var sent = handler.ApiRequests;
        Assert.Equal(3, sent.Count);
        Assert.Single(sent.Select(r => r.Headers["Idempotency-Key"]).Distinct());
        Assert.All(sent, r => Assert.Equal("""{"operation":"capture","amount":500}""", r.Body));
    }

    [Fact]
    public async Task Two_calls_get_two_different_keys()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.Created, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler);

        await client.CreateTransactionAsync(Authorize);
        await client.CreateTransactionAsync(Authorize);

        var keys = handler.ApiRequests.Select(r => r.Headers["Idempotency-Key"]).ToList();
        Assert.Equal(2, keys.Distinct().Count());
    }

    [Fact]
    public async Task A_caller_key_and_if_match_are_sent_as_given()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.Created, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler);

        await client.RefundAsync("trx_1", new CreateRefundRequest { Amount = 300 },
            new RequestOptions { IdempotencyKey = "order-1001-refund-1", IfMatch = "\"7\"" });

        var sent = Assert.Single(handler.ApiRequests);
        Assert.Equal("order-1001-refund-1", sent.Headers["Idempotency-Key"]);
        Assert.Equal("\"7\"", sent.Headers["If-Match"]);
        Assert.Equal("/v1/transactions/trx_1/refunds", sent.Uri.AbsolutePath);
        Assert.Equal("""{"amount":300}""", sent.Body);
    }

    [Fact]
    public async Task A_request_in_progress_is_retried_with_the_same_key()
    {
        using var handler = new FakeHandler((_, n) => n == 0
            ? FakeHandler.Problem(409, "idempotency_request_in_progress")
            : FakeHandler.Json(HttpStatusCode.Created, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler);

        await client.CreateTransactionAsync(Authorize);

        Assert.Equal(2, handler.ApiRequests.Count);
        Assert.Single(handler.ApiRequests.Select(r => r.Headers["Idempotency-Key"]).Distinct());
    }

    [Fact]
    public async Task A_conflict_with_retry_after_is_for_now_and_is_retried_with_the_same_key()
    {
        // An intent another request is confirming (ADR 135): 409 invalid_state with Retry-After, the key left free.
        using var handler = new FakeHandler((_, n) => n == 0
            ? WithRetryAfter(FakeHandler.Problem(409, "invalid_state"), "1")
            : FakeHandler.Json(HttpStatusCode.Created, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler);

        var trx = await client.CreateTransactionAsync(CreateTransactionRequest.ForIntent(TransactionOperation.Authorize, "pi_1"));

        Assert.Equal("trx_1", trx.TrxId);
        Assert.Equal(2, handler.ApiRequests.Count);
        Assert.Single(handler.ApiRequests.Select(r => r.Headers["Idempotency-Key"]).Distinct());
    }

    [Fact]
    public async Task A_conflict_with_retry_after_that_lasts_surfaces_after_the_configured_retries()
    {
        using var handler = new FakeHandler((_, _) => WithRetryAfter(FakeHandler.Problem(409, "invalid_state"), "1"));
        using var client = FakeHandler.ClientOver(handler, maxRetries: 2);

        var e = await Assert.ThrowsAsync<PaymentsConflictException>(() => client.CancelPaymentIntentAsync("pi_1"));

        Assert.Equal(3, handler.ApiRequests.Count);
        Assert.Equal("invalid_state", e.Code);
        Assert.Equal(TimeSpan.FromSeconds(1), e.RetryAfter);
    }

    [Theory]
    [InlineData(409, "invalid_state")]
    [InlineData(422, "idempotency_key_reused")]
    [InlineData(400, "validation_failed")]
    public async Task A_final_refusal_is_not_retried(int status, string code)
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Problem(status, code));
        using var client = FakeHandler.ClientOver(handler);

        await Assert.ThrowsAnyAsync<PaymentsApiException>(() => client.VoidAsync("trx_1"));

        Assert.Single(handler.ApiRequests);
    }

    [Fact]
    public async Task Retries_stop_after_the_configured_count_and_surface_the_last_problem()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Problem(503, "service_unavailable"));
        using var client = FakeHandler.ClientOver(handler, maxRetries: 2);

        var e = await Assert.ThrowsAsync<PaymentsServerException>(() => client.CreateTransactionAsync(Authorize));

        Assert.Equal(3, handler.ApiRequests.Count);
        Assert.Equal(handler.ApiRequests[0].Headers["Idempotency-Key"], e.IdempotencyKey);
    }

    [Fact]
    public async Task Card_data_posted_to_the_vault_is_never_retried_and_carries_no_bearer_token()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Problem(503, "service_unavailable"));
        using var client = FakeHandler.ClientOver(handler);
        var intent = new TokenizationIntent
        {
            Id = "tki_1",
            Status = TokenizationIntentStatus.RequiresCard,
            ClientSecret = "tki_1_secret",
            CardEntryUrl = "http://vault.test:5090/card-entry/tki_1?x=1",
        };

        await Assert.ThrowsAsync<PaymentsServerException>(() => client.SubmitCardAsync(intent,
            new CardInput { Number = "4242424242424242", ExpMonth = 12, ExpYear = 2030, Cvc = "123" }));

        var sent = Assert.Single(handler.Requests);
        Assert.Equal("http://vault.test:5090/v1/tokenization-intents/tki_1/card", sent.Uri.ToString());
        Assert.False(sent.Headers.ContainsKey("Authorization"));
        Assert.False(sent.Headers.ContainsKey("Idempotency-Key"));
        using var body = JsonDocument.Parse(sent.Body!);
        Assert.Equal("tki_1_secret", body.RootElement.GetProperty("client_secret").GetString());
        Assert.Equal(12, body.RootElement.GetProperty("exp_month").GetInt32());
    }

    [Fact]
    public void Card_input_never_prints_the_number_or_cvc()
    {
        var card = new CardInput { Number = "4242424242424242", ExpMonth = 1, ExpYear = 2031, Cvc = "987" };

        var text = card.ToString();

        Assert.DoesNotContain("424242424242", text, StringComparison.Ordinal);
        Assert.DoesNotContain("987", text, StringComparison.Ordinal);
        Assert.EndsWith("4242 01/2031", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_token_serves_many_calls_and_is_renewed_before_it_expires()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.OK, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler, clock);

        await client.GetTransactionAsync("trx_1");
        await client.GetTransactionAsync("trx_1");
        clock.Now += TimeSpan.FromSeconds(900 - 61);
        await client.GetTransactionAsync("trx_1");
        clock.Now += TimeSpan.FromSeconds(2);
        await client.GetTransactionAsync("trx_1");

        var bearers = handler.ApiRequests.Select(r => r.Headers["Authorization"]).ToList();
        Assert.Equal(["Bearer tok-1", "Bearer tok-1", "Bearer tok-1", "Bearer tok-2"], bearers);
        var tokenCall = handler.Requests.First(r => r.Uri.AbsolutePath == "/v1/auth/token");
        Assert.Equal("""{"client_id":"cli_1","client_secret":"secret"}""", tokenCall.Body);
    }

    [Fact]
    public async Task A_401_gets_a_fresh_token_and_one_retry_only()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Problem(401, "invalid_token"));
        using var client = FakeHandler.ClientOver(handler);

        await Assert.ThrowsAsync<PaymentsAuthenticationException>(() => client.GetTransactionAsync("trx_1"));

        var bearers = handler.ApiRequests.Select(r => r.Headers["Authorization"]).ToList();
        Assert.Equal(["Bearer tok-1", "Bearer tok-2"], bearers);
    }

    [Fact]
    public async Task A_cancelled_call_stops_without_sending()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.OK, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetTransactionAsync("trx_1", cts.Token));

        Assert.Empty(handler.ApiRequests);
    }

    [Fact]
    public async Task Responses_carry_request_id_replay_flag_and_etag_and_ignore_unknown_fields()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.OK, FakeHandler.TransactionJson, r =>
        {
            r.Headers.TryAddWithoutValidation("Idempotent-Replayed", "true");
            r.Headers.TryAddWithoutValidation("ETag", "\"3\"");
        }));
        using var client = FakeHandler.ClientOver(handler);

        var trx = await client.CaptureAsync("trx_1");

        Assert.True(trx.Response!.IdempotentReplayed);
        Assert.Equal("\"3\"", trx.Response.ETag);
        Assert.Equal("req_test", trx.Response.RequestId);
        Assert.Equal(1050, trx.CapturedAmount);
        Assert.Equal(1050, trx.Refundable);
        Assert.Equal("4242", trx.Card!.Last4);
        Assert.Equal("""{"operation":"capture"}""", handler.ApiRequests[0].Body);
    }

    [Fact]
    public void The_list_query_uses_the_contract_date_format_and_passes_as_of_back_verbatim()
    {
        var query = PaymentsClient.QueryOf(new ListTransactionsRequest
        {
            StartDate = new DateOnly(2026, 3, 1),
            EndDate = new DateOnly(2026, 3, 2),
            Limit = 50,
            SortBy = "created_at",
            SortDirection = "DESC",
            Type = TransactionType.Payment,
            AsOf = "2026-03-01T12:00:00.123456Z",
        });

        Assert.Equal("start_date=01%2F03%2F2026&end_date=02%2F03%2F2026&limit=50&sort_by=created_at&sort_direction=DESC&type=PAYMENT&as_of=2026-03-01T12%3A00%3A00.123456Z", query);
    }

    [Fact]
    public async Task Listing_all_pages_pins_the_first_pages_as_of()
    {
        using var handler = new FakeHandler((sent, n) => FakeHandler.Json(HttpStatusCode.OK,
            $$"""{"data":[{{FakeHandler.TransactionJson}}],"offset":{{n}},"limit":10,"total":2,"has_more":{{(n == 0 ? "true" : "false")}},"as_of":"2026-01-01T00:00:0{{n}}Z"}"""));
        using var client = FakeHandler.ClientOver(handler);

        var all = new List<Transaction>();
        await foreach (var t in client.ListAllTransactionsAsync(new ListTransactionsRequest { StartDate = new DateOnly(2026, 1, 1), EndDate = new DateOnly(2026, 1, 2) }))
        {
            all.Add(t);
        }

        Assert.Equal(2, all.Count);
        Assert.DoesNotContain("as_of", handler.ApiRequests[0].Uri.Query, StringComparison.Ordinal);
        Assert.Contains("offset=1&", handler.ApiRequests[1].Uri.Query, StringComparison.Ordinal);
        Assert.Contains("as_of=2026-01-01T00%3A00%3A00Z", handler.ApiRequests[1].Uri.Query, StringComparison.Ordinal);
        // Only created_at keeps rows in place between pages (as_of leaves new ones out; updates do not move them).
        Assert.All(handler.ApiRequests, r => Assert.Contains("sort_by=created_at", r.Uri.Query, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listing_all_pages_refuses_a_sort_under_which_rows_move_between_pages()
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.OK, """{"data":[],"offset":0,"limit":10,"total":0,"has_more":false,"as_of":"2026-01-01T00:00:00Z"}"""));
        using var client = FakeHandler.ClientOver(handler);

        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var _ in client.ListAllTransactionsAsync(new ListTransactionsRequest
                           { StartDate = new DateOnly(2026, 1, 1), EndDate = new DateOnly(2026, 1, 2), SortBy = "updated_at" }))
            {
            }
        });

        Assert.Empty(handler.ApiRequests);
    }

    [Theory]
    [InlineData("http://gateway.test/gw")]
    [InlineData("http://gateway.test/gw/")]
    public async Task A_base_address_with_a_path_keeps_its_path_with_or_without_a_trailing_slash(string baseAddress)
    {
        using var handler = new FakeHandler((_, _) => FakeHandler.Json(HttpStatusCode.OK, FakeHandler.TransactionJson));
        using var client = FakeHandler.ClientOver(handler, baseAddress: baseAddress);

        await client.GetTransactionAsync("trx_1");

        Assert.Equal(["/gw/v1/auth/token", "/gw/v1/transactions/trx_1"], handler.Requests.Select(r => r.Uri.AbsolutePath));
    }
}
