// The whole merchant flow with the C# clients NSwag generates from the served documents (Generated.Payments.PaymentsApi,
// Generated.Vault.VaultApi). Compiled at run time by CSharpClientTests, so a document that changes how the flow calls
// the API fails that test's compilation.
using System;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Tasks;
using Generated.Payments;
using Generated.Vault;

namespace Generated;

public static class Flow
{
    public static async Task<string> RunAsync(string hostUrl, string vaultUrl, string clientId, string clientSecret)
    {
        using var http = new HttpClient();
        // The documents' server is "/" (same origin): the base URL is set here.
        var api = new PaymentsApi(http) { BaseUrl = hostUrl };
        using var vaultHttp = new HttpClient();
        var vault = new VaultApi(vaultHttp) { BaseUrl = vaultUrl };

        var token = await api.CreateAccessTokenAsync(new TokenRequest { Client_id = clientId, Client_secret = clientSecret });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Access_token);

        var intent = await api.CreateTokenizationIntentAsync(null, new CreateTokenizationIntentRequest());
        var card = await vault.SubmitCardAsync(intent.Id, new CardSubmission
        {
            Client_secret = intent.Client_secret,
            Number = "4242424242424242",
            Exp_month = 12,
            Exp_year = DateTime.UtcNow.Year + 2,
            Cvc = "123",
        });

        var orderId = "cs-" + Guid.NewGuid().ToString("N")[..12];
        var authorized = await api.CreateTransactionAsync(orderId + "-auth", new AuthorizeRequest
        {
            Operation = AuthorizeRequestOperation.Authorize, Amount = 1200, Currency = "USD", Card_token = card.Card_token, Order_id = orderId,
        });
        var captured = await api.CaptureOrVoidTransactionAsync(authorized.Trx_id, null, null,
            new CaptureVoidRequest { Operation = CaptureVoidRequestOperation.Capture, Amount = 1200 });
        var refund = await api.CreateRefundAsync(authorized.Trx_id, null, null, new CreateRefundRequest { Amount = 500 });
        var today = DateTime.UtcNow;
        var list = await api.ListTransactionsAsync(today.ToString("dd/MM/yyyy", CultureInfo.InvariantCulture),
            today.AddDays(1).ToString("dd/MM/yyyy", CultureInfo.InvariantCulture), null, 10, null, null, null, null, null);

        int errorStatus = 0;
        string? errorCode = null;
        try
        {
            await api.GetTransactionAsync("trx_00000000000000000000000000");
        }
        catch (Generated.Payments.ApiException<Generated.Payments.Problem> e)
        {
            errorStatus = e.StatusCode;
            errorCode = e.Result.Code;
        }

        return JsonSerializer.Serialize(new
        {
            trx_id = authorized.Trx_id,
            captured = captured.Captured_amount,
            refunded = refund.Order_amount,
            // An enum since the document lists the types; its name, upper-cased, is the wire value.
            refund_type = refund.Type.ToString().ToUpperInvariant(),
            listed = list.Data.Any(t => t.Trx_id == authorized.Trx_id),
            error_status = errorStatus,
            error_code = errorCode,
        });
    }
}
