using Payments.BuildingBlocks.Http;
using Payments.Vault.Acquirer;
using Payments.Vault.Cards;
using Payments.Vault.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Payments.Vault.Tests;

public sealed class AcquirerTests(VaultFixture vault) : IClassFixture<VaultFixture>
{
    [Theory]
    [InlineData("4242424242424242", true, null)]
    [InlineData("5555555555554444", true, null)]
    [InlineData("378282246310005", true, null)]
    [InlineData("4000000000000002", false, "card_declined")]
    [InlineData("4000000000009995", false, "insufficient_funds")]
    [InlineData("4000000000000069", false, "expired_card")]
    [InlineData("4000000000000119", false, "processing_error")]
    public async Task Every_sandbox_test_card_gives_its_documented_outcome(string number, bool approved, string? declineCode)
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant, number, number.Length == 15 ? "1234" : "123");

        var outcome = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 1000, "USD", "trx_test"), CancellationToken.None);

        Assert.True(outcome.CardFound);
        Assert.Equal(approved, outcome.Approved);
        Assert.Equal(declineCode, outcome.DeclineCode);
        Assert.Equal(approved, outcome.AuthorizationCode is not null);
        Assert.Equal(number[^4..], outcome.Last4);
    }

    [Fact]
    public async Task A_card_on_file_authorizes_again_without_its_cvc()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var cvcs = vault.Vault.Services.GetRequiredService<CvcStore>();
        Assert.True(cvcs.Contains(token));

        var first = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 500, "EUR", "trx_1"), CancellationToken.None);
        Assert.False(cvcs.Contains(token));
        var second = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 700, "EUR", "trx_2", Capture: true), CancellationToken.None);

        Assert.True(first.Approved);
        Assert.True(second.Approved);
        var withCvc = await vault.ScalarAsync<string>(
            "SELECT string_agg(detail::jsonb ->> 'with_cvc', ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.auth%'", token);
        Assert.Equal("true,false", withCvc);
    }

    [Fact]
    public async Task A_retried_attempt_key_gets_its_first_answer_without_a_second_authorization()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var key = Guid.NewGuid().ToString("N");

        var first = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_a1", AttemptKey: key), CancellationToken.None);
        var retry = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_a2", AttemptKey: key), CancellationToken.None);
        var other = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_a3", AttemptKey: key + "x"), CancellationToken.None);

        Assert.True(first.Approved);
        Assert.Null(first.AnsweredAt);
        Assert.NotNull(retry.AnsweredAt);
        Assert.Equal(first, retry with { AnsweredAt = null });
        Assert.NotEqual(first.AuthorizationCode, other.AuthorizationCode);
        Assert.Equal("card.authorize,card.authorize.repeated,card.authorize", await vault.ScalarAsync<string>(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.auth%'", token));
        Assert.Equal(2L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.acquirer_attempts WHERE merchant_id = $1", merchant));
    }

    [Fact]
    public async Task An_attempt_key_is_refused_with_another_request_and_answers_anew_once_past_its_retention()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var key = Guid.NewGuid().ToString("N");
        var first = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_b1", AttemptKey: key), CancellationToken.None);

        var otherAmount = await Assert.ThrowsAsync<ProblemException>(() =>
            vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 901, "USD", "trx_b2", AttemptKey: key), CancellationToken.None));
        var authcap = await Assert.ThrowsAsync<ProblemException>(() =>
            vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_b3", Capture: true, AttemptKey: key), CancellationToken.None));
        Assert.Equal((422, "idempotency_key_reused"), (otherAmount.Status, otherAmount.Code));
        Assert.Equal((422, "idempotency_key_reused"), (authcap.Status, authcap.Code));

        Assert.Equal(1, await vault.ExecAsync(
            "UPDATE vault.acquirer_attempts SET created_at = now() - interval '9 days' WHERE merchant_id = $1", merchant));
        var later = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 901, "USD", "trx_b4", AttemptKey: key), CancellationToken.None);

        Assert.True(later.Approved);
        Assert.NotEqual(first.AuthorizationCode, later.AuthorizationCode);
        Assert.Equal(901L, await vault.ScalarAsync<long>("SELECT amount FROM vault.acquirer_attempts WHERE merchant_id = $1", merchant));
        Assert.Equal("card.authorize,card.authorize", await vault.ScalarAsync<string>(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.auth%'", token));
    }

    [Fact]
    public async Task A_key_still_with_the_acquirer_is_refused_for_now_and_taken_over_once_abandoned()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var key = Guid.NewGuid().ToString("N");
        // As a call that reserved the key and is still waiting on the acquirer (or whose Vault stopped) leaves it.
        await vault.ExecAsync("""
            INSERT INTO vault.acquirer_attempts (merchant_id, attempt_key, action, card_token, amount, currency, state)
            VALUES ($1, $2, 'card.authorize', $3, 900, 'USD', 'pending')
            """, merchant, key, token);

        var busy = await Assert.ThrowsAsync<ProblemException>(() =>
            vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_c1", AttemptKey: key), CancellationToken.None));
        var other = await Assert.ThrowsAsync<ProblemException>(() =>
            vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 901, "USD", "trx_c2", AttemptKey: key), CancellationToken.None));
        Assert.Equal((409, "idempotency_request_in_progress", 1), (busy.Status, busy.Code, busy.RetryAfterSeconds));
        Assert.Equal((422, "idempotency_key_reused"), (other.Status, other.Code));
        Assert.Equal(0L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card.auth%'", token));

        Assert.Equal(1, await vault.ExecAsync(
            "UPDATE vault.acquirer_attempts SET created_at = now() - interval '31 seconds' WHERE attempt_key = $1", key));
        var taken = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_c3", AttemptKey: key), CancellationToken.None);

        Assert.True(taken.Approved);
        Assert.Equal(taken.AuthorizationCode, await vault.ScalarAsync<string>(
            "SELECT authorization_code FROM vault.acquirer_attempts WHERE attempt_key = $1 AND state = 'answered'", key));
    }

    [Fact]
    public async Task A_use_that_fails_before_the_acquirer_is_asked_gives_its_attempt_key_back_at_once()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        var key = Guid.NewGuid().ToString("N");
        // The merchant's data key must be read from the database (as after a restart), and that read fails.
        vault.Vault.Services.GetRequiredService<Payments.Vault.Crypto.MerchantKeys>().SetListening(true);
        await vault.ExecAsync($"REVOKE SELECT ON vault.wrapped_keys FROM {vault.ServingRole}");
        try
        {
            await Assert.ThrowsAsync<VaultUnavailableException>(() =>
                vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_f1", AttemptKey: key), CancellationToken.None));
        }
        finally
        {
            await vault.ExecAsync($"GRANT SELECT ON vault.wrapped_keys TO {vault.ServingRole}");
        }

        // Nothing was asked of the acquirer, so the retry goes ahead now rather than waiting for the key to count as
        // abandoned, and the audit trail says why the first use ended.
        var retry = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 900, "USD", "trx_f2", AttemptKey: key), CancellationToken.None);

        Assert.True(retry.Approved);
        Assert.Equal("card_use.started,card_use.failed,card_use.started,card.authorize", await vault.ScalarAsync<string>(
            "SELECT string_agg(action, ',' ORDER BY seq) FROM vault.audit_log WHERE subject = $1 AND action LIKE 'card%' AND action <> 'card.tokenized'",
            token));
    }

    [Fact]
    public async Task The_purge_deletes_answers_past_their_retention_and_keeps_the_others()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        foreach (var key in new[] { "old-" + merchant, "new-" + merchant })
        {
            await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_p", AttemptKey: key), CancellationToken.None);
        }
        await vault.ExecAsync("UPDATE vault.acquirer_attempts SET created_at = now() - interval '9 days' WHERE attempt_key = $1", "old-" + merchant);

        var purged = await vault.Vault.Services.GetRequiredService<AcquirerAttempts>().PurgeAsync(CancellationToken.None);

        Assert.True(purged >= 1);
        Assert.Equal("new-" + merchant, await vault.ScalarAsync<string>(
            "SELECT string_agg(attempt_key, ',') FROM vault.acquirer_attempts WHERE merchant_id = $1", merchant));
    }

    [Fact]
    public async Task Another_merchants_token_is_not_found_and_reaches_no_acquirer()
    {
        var merchantA = VaultFixture.NewMerchant();
        var merchantB = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchantA);

        var outcome = await vault.VaultClient.AuthorizeAsync(merchantB, new AcquirerRequest(token, 100, "USD", "trx_b"), CancellationToken.None);
        var refund = await vault.VaultClient.RefundAsync(merchantB, new AcquirerRequest(token, 100, "USD", "trx_b"), CancellationToken.None);

        Assert.False(outcome.CardFound);
        Assert.False(refund.CardFound);
        Assert.Null(await vault.VaultClient.GetCardAsync(merchantB, token, CancellationToken.None));
        Assert.False(await vault.VaultClient.DeleteCardAsync(merchantB, token, CancellationToken.None));
        Assert.NotNull(await vault.VaultClient.GetCardAsync(merchantA, token, CancellationToken.None));
        Assert.Equal(0L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.audit_log WHERE merchant_id = $1 AND action LIKE 'card.%'", merchantB));
        // Each probe of another merchant's token is a failed access on record, naming the token's owner.
        Assert.Equal("card.authorize,card.refund,card.read,card.delete", await vault.ScalarAsync<string>(
            "SELECT string_agg(detail::jsonb ->> 'attempted', ',' ORDER BY seq) FROM vault.audit_log WHERE merchant_id = $1 AND action = 'access.cross_merchant' AND detail::jsonb ->> 'owner_merchant_id' = $2",
            merchantB, merchantA));
    }

    [Fact]
    public async Task A_deleted_card_is_unknown_from_then_on()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);

        Assert.True(await vault.VaultClient.DeleteCardAsync(merchant, token, CancellationToken.None));

        var outcome = await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_x"), CancellationToken.None);
        Assert.False(outcome.CardFound);
        Assert.Null(await vault.VaultClient.GetCardAsync(merchant, token, CancellationToken.None));
        Assert.False(await vault.VaultClient.DeleteCardAsync(merchant, token, CancellationToken.None));
        Assert.Equal(0L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.cards WHERE token = $1", token));
    }

    [Fact]
    public async Task Tokens_carry_128_random_bits_in_the_prefixed_ulid_shape()
    {
        var tokens = Enumerable.Range(0, 1000).Select(_ => CardRules.NewToken()).ToList();

        Assert.All(tokens, t => Assert.True(Payments.BuildingBlocks.Ids.PrefixedId.IsValid("tok", t), t));
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
        // The first character carries the top 3 of 128 bits: all of 0-7 appear, nothing above.
        Assert.Equal(8, tokens.Select(t => t[4]).Distinct().Count());
    }
}
