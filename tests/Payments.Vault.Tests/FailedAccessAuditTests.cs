using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Payments.Vault.Client;

namespace Payments.Vault.Tests;

/// <summary>
/// Failed access leaves a trace in the Vault's audit chain (PCI DSS 10.2.1.4): refused signatures, replays, wrong
/// client secrets; and failed card-entry attempts are limited per intent.
/// </summary>
public sealed class FailedAccessAuditTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    private const string AuthorizePath = "/internal/v1/acquirer/authorize";

    private async Task<HttpResponseMessage> SendAsync(string? authorization, string body, string path = AuthorizePath)
    {
        using var http = vault.Vault.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        return await http.SendAsync(request);
    }

    private Task<long> CountAsync(string action, string? reason = null) => vault.ScalarAsync<long>(
        "SELECT count(*) FROM vault.audit_log WHERE action = $1 AND ($2 = '' OR detail::jsonb ->> 'reason' = $2)", action, reason ?? "");

    [Fact]
    public async Task Unsigned_forged_and_replayed_calls_are_audited_with_their_reason()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var body = $$"""{"card_token":"{{token}}","amount":100,"currency":"USD","reference":"trx_audit","capture":false}""";
        var requestId = "req_audit_" + Guid.NewGuid().ToString("N");
        var signer = vault.HostServices.GetRequiredService<ServiceTokenSigner>();
        var signed = signer.Sign(merchant, "POST", AuthorizePath, Encoding.UTF8.GetBytes(body), requestId);
        var (missing, forged, replayed) = (await CountAsync("service_auth.refused", "missing"),
            await CountAsync("service_auth.refused", "badsignature"), await CountAsync("service_auth.refused", "replayed"));

        using var unsigned = await SendAsync(null, body);
        using var forgedAnswer = await SendAsync(new ServiceTokenSigner(Convert.ToBase64String(new byte[32]), TimeProvider.System)
            .Sign(merchant, "POST", AuthorizePath, Encoding.UTF8.GetBytes(body)), body);
        using var first = await SendAsync(signed, body);
        using var replay = await SendAsync(signed, body);

        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, forgedAnswer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, replay.StatusCode);
        Assert.Equal(missing + 1, await CountAsync("service_auth.refused", "missing"));
        Assert.Equal(forged + 1, await CountAsync("service_auth.refused", "badsignature"));
        Assert.Equal(replayed + 1, await CountAsync("service_auth.refused", "replayed"));
        // The replay names the request id the Host signed (its signature held); the card use names it too.
        Assert.Equal(1L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.audit_log WHERE action = 'service_auth.refused' AND detail::jsonb ->> 'claimed_request_id' = $1", requestId));
        Assert.Equal("card_use.started,card.authorize", await vault.ScalarAsync<string>(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND detail::jsonb ->> 'request_id' = $2", token, requestId));
        Assert.StartsWith("vrq_", await vault.ScalarAsync<string>(
            "SELECT detail::jsonb ->> 'vault_request_id' FROM vault.audit_log WHERE subject = $1 AND action = 'card.authorize'", token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_card_number_typed_into_the_card_entry_url_or_a_csp_report_never_reaches_the_audit_log()
    {
        const string pan = "4035501000000008";
        using var http = vault.Vault.CreateClient();
        var refused = await CountAsync("card_entry.refused", "unknown_intent");
        var malformed = await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.audit_log WHERE action = 'card_entry.refused' AND subject IS NULL AND detail::jsonb ->> 'intent_id' = 'malformed'");
        var report = $$$"""{"csp-report":{"document-uri":"https://vault.example/v1/tokenization-intents/{{{pan}}}/card-entry","violated-directive":"script-src {{{pan}}}","blocked-uri":"inline","disposition":"enforce"}}""";

        using var page = await http.GetAsync($"/v1/tokenization-intents/{pan}/card-entry?client_secret=x");
        using var card = await http.PostAsync("/v1/tokenization-intents/4035.5010.0000.0008/card",
            new StringContent("""{"client_secret":"x"}""", Encoding.UTF8, "application/json"));
        using var csp = await http.PostAsync("/csp-reports", new StringContent(report, Encoding.UTF8, "application/csp-report"));

        Assert.False(page.IsSuccessStatusCode);
        Assert.False(card.IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.NoContent, csp.StatusCode);
        // The refusals are recorded, without the id they were asked for.
        Assert.Equal(refused + 2, await CountAsync("card_entry.refused", "unknown_intent"));
        Assert.Equal(malformed + 2, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.audit_log WHERE action = 'card_entry.refused' AND subject IS NULL AND detail::jsonb ->> 'intent_id' = 'malformed'"));
        Assert.Equal(0L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.audit_log WHERE regexp_replace(coalesce(subject, '') || detail::text, '[^0-9]', '', 'g') LIKE '%' || $1 || '%'", pan));
    }

    [Fact]
    public async Task The_vault_signs_its_answer_bound_to_the_call()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var path = $"/internal/v1/cards/{token}";
        var signer = vault.HostServices.GetRequiredService<ServiceTokenSigner>();
        using var http = vault.Vault.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Authorization", signer.Sign(merchant, "GET", path, [], null, out var jti));

        using var response = await http.SendAsync(request);

        var body = await response.Content.ReadAsByteArrayAsync();
        var signature = response.Headers.GetValues(Contracts.ResponseSignature.HeaderName).Single();
        Assert.True(Contracts.ResponseSignature.Verify(signer.ResponseKey, jti, 200, body, signature));
        Assert.False(Contracts.ResponseSignature.Verify(signer.ResponseKey, jti, 404, body, signature));
        Assert.False(Contracts.ResponseSignature.Verify(signer.ResponseKey, "another-call-id-000", 200, body, signature));
    }

    [Fact]
    public async Task The_feed_takes_only_a_service_level_token_and_a_merchant_token_is_refused()
    {
        var path = "/internal/v1/tokenization-intents-succeeded?after=0&limit=10";
        var signer = vault.HostServices.GetRequiredService<ServiceTokenSigner>();
        using var http = vault.Vault.CreateClient();

        using var asMerchant = new HttpRequestMessage(HttpMethod.Get, path);
        asMerchant.Headers.TryAddWithoutValidation("Authorization", signer.Sign(VaultFixture.NewMerchant(), "GET", path, []));
        using var refused = await http.SendAsync(asMerchant);
        using var asService = new HttpRequestMessage(HttpMethod.Get, path);
        asService.Headers.TryAddWithoutValidation("Authorization", signer.Sign("", "GET", path, []));
        using var served = await http.SendAsync(asService);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Wrong_client_secrets_are_audited_and_an_intent_takes_ten_failures_a_minute()
    {
        var merchant = VaultFixture.NewMerchant();
        var (intentId, secret) = await vault.RegisterIntentAsync(merchant);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 11; i++)
        {
            using var wrong = await vault.SubmitCardAsync(intentId, secret + "x");
            statuses.Add(wrong.StatusCode);
        }
        using var right = await vault.SubmitCardAsync(intentId, secret);

        Assert.All(statuses.Take(10), s => Assert.Equal(HttpStatusCode.NotFound, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[10]);
        // Even the right secret waits: the intent's failures are spent for this minute.
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        using var problem = JsonDocument.Parse(await right.Content.ReadAsStringAsync());
        Assert.Equal("rate_limited", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(10L, await vault.ScalarAsync<long>(
            "SELECT count(*) FROM vault.audit_log WHERE action = 'card_entry.refused' AND subject = $1 AND merchant_id = $2 AND detail::jsonb ->> 'reason' = 'wrong_client_secret'",
            intentId, merchant));
    }

    [Fact]
    public async Task An_operator_verb_is_audited_with_the_os_user()
    {
        var vaultServices = vault.Vault.Services;

        using var output = new StringWriter();
        Assert.Equal(0, await Commands.VaultCommands.RunAsync(vaultServices, ["audit", "verify"], output, CancellationToken.None));

        Assert.Equal(Environment.UserName, await vault.ScalarAsync<string>(
            "SELECT detail::jsonb ->> 'os_user' FROM vault.audit_log WHERE action = 'operator.verb' AND detail::jsonb ->> 'verb' = 'audit verify' ORDER BY seq DESC LIMIT 1"));
    }

    [Fact]
    public void Every_vault_route_is_either_signed_or_explicitly_public_and_the_signed_ones_are_internal_only()
    {
        var endpoints = vault.Vault.Services.GetRequiredService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>().ToList();

        Assert.NotEmpty(endpoints);
        foreach (var e in endpoints)
        {
            var signed = e.Metadata.GetMetadata<Security.RequireServiceTokenMetadata>() is not null;
            var open = e.Metadata.GetMetadata<Security.PublicEndpointMetadata>() is not null;
            Assert.True(signed ^ open, $"{e.RoutePattern.RawText} is {(signed ? "both signed and public" : "neither signed nor public")}");
            if (signed)
            {
                Assert.Equal([BuildingBlocks.Hosting.ListenerRole.Internal],
                    e.Metadata.GetMetadata<BuildingBlocks.Hosting.ListenerMetadata>()?.Roles ?? []);
            }
        }
    }
}
