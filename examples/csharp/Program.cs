// The integration guide's whole flow through the Payments.Client library:
// token -> tokenization intent -> card to the Vault -> authorize -> capture -> refund -> list.
// Configuration comes from the environment (see docs/integration-guide.md); exits non-zero on any failure.
using Payments.Client;

var apiUrl = Environment.GetEnvironmentVariable("PAYMENTS_API_URL") ?? "http://127.0.0.1:5080";
var clientId = Environment.GetEnvironmentVariable("PAYMENTS_CLIENT_ID");
var clientSecret = Environment.GetEnvironmentVariable("PAYMENTS_CLIENT_SECRET");
var vaultUrl = Environment.GetEnvironmentVariable("PAYMENTS_VAULT_URL");
var skipRefund = Environment.GetEnvironmentVariable("PAYMENTS_SKIP_REFUND") == "1";
if (string.IsNullOrEmpty(clientId) || string.IsNullOrEmpty(clientSecret))
{
    Console.Error.WriteLine("Set PAYMENTS_CLIENT_ID and PAYMENTS_CLIENT_SECRET (from ./run.sh merchant create).");
    return 2;
}

using var payments = new PaymentsClient(new PaymentsClientOptions
{
    BaseAddress = new Uri(apiUrl.TrimEnd('/') + "/"),
    ClientId = clientId,
    ClientSecret = clientSecret,
});
using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
var ct = cts.Token;
var orderId = "example-cs-" + Guid.NewGuid().ToString("N")[..12];

try
{
    // 1. The client fetches a token itself on first use; asking here only shows it.
    var token = await payments.RequestTokenAsync(ct);
    Console.WriteLine($"1. token: {token.TokenType}, expires in {token.ExpiresIn} s");

    // 2. A tokenization intent: its card_entry_url is the Vault's page for the cardholder.
    var intent = await payments.CreateTokenizationIntentAsync(new CreateTokenizationIntentRequest(), cancellationToken: ct);
    Console.WriteLine($"2. tokenization intent {intent.Id}: {intent.Status}, card entry page {intent.CardEntryUrl}");

    // 3. Sandbox test card straight to the Vault, as a PCI-scoped server would (a shop normally uses the page).
    var card = new CardInput { Number = "4242424242424242", ExpMonth = 12, ExpYear = DateTime.UtcNow.Year + 2, Cvc = "123", HolderName = "Ada Lovelace" };
    _ = vaultUrl is null
        ? await payments.SubmitCardAsync(intent, card, ct)
        : await payments.SubmitCardAsync(new Uri(vaultUrl.TrimEnd('/') + "/"), intent.Id, intent.ClientSecret!, card, ct);
    intent = await payments.GetTokenizationIntentAsync(intent.Id, ct);
    if (intent.Status != TokenizationIntentStatus.Succeeded || intent.CardToken is null)
    {
        throw new InvalidOperationException($"intent is {intent.Status}, expected SUCCEEDED");
    }
    Console.WriteLine($"3. card posted to the Vault: {intent.Status}, card token {intent.CardToken} ({intent.Card?.Brand} •••• {intent.Card?.Last4})");

    // 4. Authorize 10.50 USD on the token (the client adds an Idempotency-Key).
    var trx = await payments.CreateTransactionAsync(
        CreateTransactionRequest.ForCard(TransactionOperation.Authorize, 1050, "USD", intent.CardToken, orderId, orderId + "-ext"), cancellationToken: ct);
    Expect(trx.Status == TransactionStatus.Authorized, $"authorize answered {trx.Status} {trx.DeclineCode}");
    Console.WriteLine($"4. authorize 1050 USD: {trx.TrxId} {trx.Status} (authorization code {trx.AuthorizationCode})");

    // 5. Capture all of it (pass an amount for a partial capture).
    trx = await payments.CaptureAsync(trx.TrxId, cancellationToken: ct);
    Expect(trx.Status == TransactionStatus.Captured && trx.CapturedAmount == 1050, $"capture answered {trx.Status} {trx.CapturedAmount}");
    Console.WriteLine($"5. capture: {trx.Status}, captured {trx.CapturedAmount}");

    // 6. Refund 3.00: a new REFUND transaction.
    if (skipRefund)
    {
        Console.WriteLine("6. refund: SKIPPED (PAYMENTS_SKIP_REFUND=1: this gateway has no refunds route yet)");
    }
    else
    {
        var refund = await payments.RefundAsync(trx.TrxId, new CreateRefundRequest { Amount = 300, Reason = "customer returned an item" }, cancellationToken: ct);
        trx = await payments.GetTransactionAsync(trx.TrxId, ct);
        Expect(refund.Type == TransactionType.Refund && trx.RefundedAmount == 300, $"refund {refund.Status}, payment refunded {trx.RefundedAmount}");
        Console.WriteLine($"6. refund 300: {refund.TrxId} {refund.Type} {refund.Status}; payment refunded_amount {trx.RefundedAmount}");
    }

    // 7. List today's transactions (end date is exclusive: tomorrow), newest first.
    var today = DateOnly.FromDateTime(DateTime.UtcNow);
    var page = await payments.ListTransactionsAsync(new ListTransactionsRequest
    {
        StartDate = today,
        EndDate = today.AddDays(1),
        SortBy = "created_at",
        SortDirection = "DESC",
        Limit = 100,
    }, ct);
    Expect(page.Data.Exists(t => t.TrxId == trx.TrxId), "the payment is not in today's list");
    Console.WriteLine($"7. list: {page.Total} transaction(s) today, as_of {page.AsOf}; {trx.TrxId} is listed");

    Console.WriteLine($"DONE trx_id={trx.TrxId}");
    return 0;
}
catch (PaymentsApiException e)
{
    Console.Error.WriteLine($"FAILED: HTTP {e.Status} {e.Code}: {e.Detail} (request {e.RequestId})");
    if (e is PaymentsRateLimitedException)
    {
        // The client retries a merchant route's 429 itself, never the token route's: that one follows too many
        // failed logins and lasts minutes.
        Console.Error.WriteLine("Not retrying. On the token route this follows too many failed logins for this client id: check " +
                                $"PAYMENTS_CLIENT_SECRET, then try again after Retry-After: {e.RetryAfter?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} s.");
    }
    return 1;
}
catch (Exception e) when (e is InvalidOperationException or HttpRequestException or OperationCanceledException)
{
    Console.Error.WriteLine("FAILED: " + e.Message);
    return 1;
}

static void Expect(bool condition, string failure)
{
    if (!condition)
    {
        throw new InvalidOperationException(failure);
    }
}
