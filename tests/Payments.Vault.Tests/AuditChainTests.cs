using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks;
using Payments.TestKit;
using Payments.Vault.Audit;
using Payments.Vault.Cards;
using Payments.Vault.Commands;
using Payments.Vault.Contracts;

namespace Payments.Vault.Tests;

/// <summary>A Vault whose anchors go to a file of the test's own and are written only when a test asks.</summary>
public sealed class AuditFixture : VaultFixture
{
    public string AnchorFile { get; } = Path.Combine(Path.GetTempPath(), "payments-audit-test-" + Guid.NewGuid().ToString("N") + ".jsonl");

    protected override void ConfigureVault(Dictionary<string, string?> settings)
    {
        base.ConfigureVault(settings);
        settings["Vault:Audit:AnchorFile"] = AnchorFile;
        settings["Vault:Audit:AnchorEveryRows"] = "1000000";
        settings["Vault:Audit:AnchorInterval"] = "01:00:00";
        settings["Vault:Audit:VerifyInterval"] = "01:00:00";
    }

    /// <summary>Another Vault process on the same database and chain, with these audit settings.</summary>
    public VaultFactory SecondVault(params (string Key, string Value)[] audit)
    {
        var settings = new Dictionary<string, string?>(VaultSettings)
        {
            ["Vault:Audit:AnchorFile"] = Path.Combine(Path.GetTempPath(), "payments-audit-test-" + Guid.NewGuid().ToString("N") + ".jsonl"),
        };
        foreach (var (k, v) in audit)
        {
            settings["Vault:Audit:" + k] = v;
        }
        return new VaultFactory(settings);
    }
}

public sealed class AuditChainTests(AuditFixture vault) : IClassFixture<AuditFixture>
{
    private IServiceProvider Services => vault.Vault.Services;

    /// <summary>A few real rows (a card stored and used) and an anchor at the head; returns the anchor.</summary>
    private async Task<AuditAnchor> RowsAndAnchorAsync()
    {
        var merchant = VaultFixture.NewMerchant();
        var token = await vault.TokenizeAsync(merchant);
        await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_audit"), CancellationToken.None);
        await vault.VaultClient.AuthorizeAsync(merchant, new AcquirerRequest(token, 200, "USD", "trx_audit2"), CancellationToken.None);
        var anchor = await Services.GetRequiredService<AuditAnchors>().WriteAsync(vault.AnchorFile, CancellationToken.None);
        Assert.NotNull(anchor);
        return anchor;
    }

    /// <summary><c>vault audit verify --anchor FILE</c>, as its JSON output.</summary>
    private async Task<(int Exit, JsonElement Json)> VerifyAsync(bool withAnchor = true)
    {
        string[] args = withAnchor ? ["audit", "verify", "--anchor", vault.AnchorFile] : ["audit", "verify", "--anchor", "/nonexistent"];
        var (exit, output) = withAnchor
            ? await AuditCommands.VerifyAsync(Services, args, CancellationToken.None)
            : (0, (object)await AuditVerifier.VerifyAsync(Services.GetRequiredService<NpgsqlDataSource>(),
                Services.GetRequiredService<IAuditKey>(), null, CancellationToken.None));
        var json = JsonSerializer.SerializeToElement(output, PaymentsJson.Options);
        return (withAnchor ? exit : json.GetProperty("valid").GetBoolean() ? 0 : 1, json);
    }

    /// <summary>
    /// Tampers with the table as someone with the database owner's (superuser's) rights would, runs the check, then
    /// puts every row back as it was so the next test finds an intact chain.
    /// </summary>
    private async Task<T> TamperedAsync<T>(Func<NpgsqlConnection, Task> tamper, Func<Task<T>> check)
    {
        await using var conn = new NpgsqlConnection(vault.VaultConnectionString);
        await conn.OpenAsync();
        await ExecAsync(conn, "SET session_replication_role = replica; CREATE TEMP TABLE saved AS SELECT * FROM vault.audit_log");
        try
        {
            await tamper(conn);
            return await check();
        }
        finally
        {
            await ExecAsync(conn, "DELETE FROM vault.audit_log; INSERT INTO vault.audit_log SELECT * FROM saved; DROP TABLE saved");
        }
    }

    private static async Task<int> ExecAsync(NpgsqlConnection conn, string sql, params object[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args)
        {
            cmd.Parameters.Add(new() { Value = a });
        }
        return await cmd.ExecuteNonQueryAsync();
    }

    private Task<long> SeqAsync(string sql) => vault.ScalarAsync<long>(sql)!;

    /// <summary>Edits row <paramref name="edited"/> and recomputes every row from <paramref name="start"/> as an unkeyed SHA-256 chain, the old algorithm anybody can run.</summary>
    private static async Task RecomputeUnkeyedAsync(NpgsqlConnection conn, long edited, long start)
    {
        await ExecAsync(conn, "UPDATE vault.audit_log SET detail = replace(detail, '\"amount\":200', '\"amount\":20') WHERE seq = $1", edited);
        var rows = new List<(long Seq, AuditEntry Entry)>();
        byte[] link = AuditChain.Genesis;
        await using (var cmd = new NpgsqlCommand(
            "SELECT seq, at, action, merchant_id, subject, detail, coalesce(mac, hash) FROM vault.audit_log ORDER BY seq", conn))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                var seq = r.GetInt64(0);
                if (seq < start)
                {
                    link = (byte[])r[6];
                    continue;
                }
                rows.Add((seq, new AuditEntry(new DateTimeOffset(r.GetDateTime(1), TimeSpan.Zero), r.GetString(2),
                    r.IsDBNull(3) ? null : r.GetString(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetString(5))));
            }
        }
        foreach (var (seq, entry) in rows)
        {
            var hash = AuditChain.LegacyHash(link, entry);
            await ExecAsync(conn, "UPDATE vault.audit_log SET n = NULL, key_version = NULL, mac = NULL, prev_hash = $2, hash = $3 WHERE seq = $1",
                seq, link, hash);
            link = hash;
        }
    }

    [Fact]
    public async Task A_chain_recomputed_without_the_key_is_found_by_the_next_scheduled_run()
    {
        await RowsAndAnchorAsync();
        await using var second = vault.SecondVault(("VerifyInterval", "00:00:00.200"));
        var verification = second.Services.GetRequiredService<AuditVerificationService>();
        var anchors = second.Services.GetRequiredService<AuditAnchors>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        // Its start anchor written and the chain verified past it: from now on only new rows are walked.
        while (anchors.Latest is null || (await verification.NextRunAsync().WaitAsync(timeout.Token)).HeadSeq < anchors.Latest.Seq)
        {
        }
        var from = await SeqAsync("SELECT seq FROM vault.audit_log WHERE action = 'card.authorize' ORDER BY seq DESC LIMIT 1");

        var broken = await TamperedAsync(conn => RecomputeUnkeyedAsync(conn, from, 0), async () =>
        {
            while (true)
            {
                var run = await verification.NextRunAsync().WaitAsync(timeout.Token);
                if (!run.Valid)
                {
                    return run;
                }
            }
        });

        Assert.Equal("anchor_mismatch", broken.Problem);
    }

    [Fact]
    public async Task An_intact_chain_verifies_against_its_anchor_and_counts_the_rows_after_it()
    {
        var anchor = await RowsAndAnchorAsync();
        await Services.GetRequiredService<AuditLog>().AppendAsync("test.after_anchor", null, null, new Dictionary<string, object?>());

        var (exit, json) = await VerifyAsync();

        Assert.Equal(0, exit);
        Assert.True(json.GetProperty("valid").GetBoolean(), json.ToString());
        Assert.Equal(anchor.Seq, json.GetProperty("anchor").GetProperty("seq").GetInt64());
        Assert.True(json.GetProperty("unanchored_rows").GetInt64() >= 1);
        Assert.True(json.GetProperty("keyed_rows").GetInt64() > 3);
    }

    [Fact]
    public async Task Editing_a_row_is_found_at_that_row()
    {
        await RowsAndAnchorAsync();
        var seq = await SeqAsync("SELECT seq FROM vault.audit_log WHERE action = 'card.authorize' ORDER BY seq DESC LIMIT 1");

        var (exit, json) = await TamperedAsync(
            conn => ExecAsync(conn, "UPDATE vault.audit_log SET detail = replace(detail, '\"approved\":true', '\"approved\":false') WHERE seq = $1", seq),
            () => VerifyAsync());

        Assert.Equal(1, exit);
        Assert.Equal("row_changed", json.GetProperty("problem").GetString());
        Assert.Equal(seq, json.GetProperty("first_broken_seq").GetInt64());
        Assert.Equal(0, (await VerifyAsync()).Exit); // and put back, it verifies again
    }

    [Fact]
    public async Task Deleting_a_row_is_found_at_the_row_after_it()
    {
        await RowsAndAnchorAsync();
        var seq = await SeqAsync("SELECT seq FROM vault.audit_log WHERE action = 'card_use.started' ORDER BY seq DESC LIMIT 1");
        var next = await SeqAsync($"SELECT min(seq) FROM vault.audit_log WHERE seq > {seq}");

        var (exit, json) = await TamperedAsync(conn => ExecAsync(conn, "DELETE FROM vault.audit_log WHERE seq = $1", seq), () => VerifyAsync());

        Assert.Equal(1, exit);
        Assert.Equal("rows_missing", json.GetProperty("problem").GetString());
        Assert.Equal(next, json.GetProperty("first_broken_seq").GetInt64());
    }

    [Fact]
    public async Task Cutting_the_tail_up_to_the_anchor_is_found_and_rows_after_the_anchor_are_reported_unanchored()
    {
        var anchor = await RowsAndAnchorAsync();
        var audit = Services.GetRequiredService<AuditLog>();
        await audit.AppendAsync("test.after_anchor", null, null, new Dictionary<string, object?>());
        await audit.AppendAsync("test.after_anchor", null, null, new Dictionary<string, object?>());

        // Only rows after the anchor cut: not detectable, and the output says how many rows were exposed so.
        var (afterExit, afterJson) = await TamperedAsync(
            conn => ExecAsync(conn, "DELETE FROM vault.audit_log WHERE seq > $1", anchor.Seq), () => VerifyAsync());
        // (The Host's feed poller may append a feed.read row at any time: counts are bounds, not exact.)
        Assert.Equal(0, afterExit);
        Assert.True(afterJson.GetProperty("unanchored_rows").GetInt64() < 2);
        Assert.True((await VerifyAsync()).Json.GetProperty("unanchored_rows").GetInt64() >= 2);

        // The anchored row and two before it cut: found, whether or not the chain left still links.
        var (exit, json) = await TamperedAsync(
            conn => ExecAsync(conn, "DELETE FROM vault.audit_log WHERE seq IN (SELECT seq FROM vault.audit_log WHERE seq <= $1 ORDER BY seq DESC LIMIT 3)", anchor.Seq),
            () => VerifyAsync());
        Assert.Equal(1, exit);
        Assert.Contains(json.GetProperty("problem").GetString(), new[] { "tail_cut", "anchored_row_missing", "rows_missing" });
        var (noAnchorExit, _) = await TamperedAsync(
            conn => ExecAsync(conn, "DELETE FROM vault.audit_log WHERE seq IN (SELECT seq FROM vault.audit_log ORDER BY seq DESC LIMIT 3)"),
            () => VerifyAsync(withAnchor: false));
        Assert.Equal(0, noAnchorExit); // without an anchor, a cut tail leaves no trace: that is what anchors are for
    }

    [Fact]
    public async Task A_chain_recomputed_without_the_key_is_found()
    {
        var anchor = await RowsAndAnchorAsync();
        var from = await SeqAsync("SELECT seq FROM vault.audit_log WHERE action = 'card.authorize' ORDER BY seq DESC LIMIT 1");

        var (exit, json) = await TamperedAsync(conn => RecomputeUnkeyedAsync(conn, from, from), () => VerifyAsync());
        Assert.Equal(1, exit);
        Assert.Equal("unkeyed_row_after_keyed", json.GetProperty("problem").GetString());
        Assert.Equal(from, json.GetProperty("first_broken_seq").GetInt64());

        // The whole table recomputed (no keyed row left to betray it): the anchor does.
        var (allExit, allJson) = await TamperedAsync(conn => RecomputeUnkeyedAsync(conn, from, 0), () => VerifyAsync());
        Assert.Equal(1, allExit);
        Assert.Equal("anchor_mismatch", allJson.GetProperty("problem").GetString());
        Assert.Equal(anchor.Seq, allJson.GetProperty("first_broken_seq").GetInt64());
    }

    [Fact]
    public async Task A_forged_anchor_is_refused()
    {
        var anchor = await RowsAndAnchorAsync();
        var forged = Path.Combine(Path.GetTempPath(), "payments-audit-forged-" + Guid.NewGuid().ToString("N") + ".jsonl");
        await File.WriteAllTextAsync(forged, (anchor with { Rows = anchor.Rows - 1 }).ToJson() + "\n");

        var (exit, output) = await AuditCommands.VerifyAsync(Services, ["audit", "verify", "--anchor", forged], CancellationToken.None);

        Assert.Equal(1, exit);
        Assert.Equal("anchor_not_authentic", JsonSerializer.SerializeToElement(output, PaymentsJson.Options).GetProperty("problem").GetString());
        File.Delete(forged);
    }

    [Fact]
    public async Task Anchors_are_appended_as_json_lines_readable_by_the_vaults_user_only()
    {
        var anchor = await RowsAndAnchorAsync();

        var last = File.ReadLines(vault.AnchorFile).Last();
        Assert.Equal(anchor, JsonSerializer.Deserialize<AuditAnchor>(last));
        Assert.True(anchor.IsAuthentic(Services.GetRequiredService<IAuditKey>()));
        Assert.Equal(anchor.Rows, await vault.ScalarAsync<long>("SELECT n FROM vault.audit_log WHERE seq = $1", anchor.Seq));
        Assert.False(OperatingSystem.IsWindows()); // the Vault runs on Linux only
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(vault.AnchorFile));
        }
    }

    [Fact]
    public async Task An_anchor_is_written_once_the_configured_number_of_rows_is_reached()
    {
        await using var second = vault.SecondVault(("AnchorEveryRows", "5"), ("AnchorInterval", "01:00:00"));
        var anchors = second.Services.GetRequiredService<AuditAnchors>();
        var audit = second.Services.GetRequiredService<AuditLog>();
        for (var i = 0; i < 5; i++)
        {
            await audit.AppendAsync("test.count", null, null, new Dictionary<string, object?> { ["i"] = i });
        }
        var fifth = await vault.ScalarAsync<long>("SELECT max(seq) FROM vault.audit_log WHERE action = 'test.count'");

        var anchor = await NextAnchorReachingAsync(anchors, fifth);

        Assert.True(anchor.Seq >= fifth);
        Assert.Contains(File.ReadLines(second.Services.GetRequiredService<IOptions<AuditOptions>>().Value.AnchorPath()), l => l.Contains($"\"seq\":{anchor.Seq},", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_anchor_is_written_once_the_interval_has_passed_with_fewer_rows()
    {
        await using var second = vault.SecondVault(("AnchorEveryRows", "1000000"), ("AnchorInterval", "00:00:00.300"));
        var anchors = second.Services.GetRequiredService<AuditAnchors>();
        await second.Services.GetRequiredService<AuditLog>().AppendAsync("test.time", null, null, new Dictionary<string, object?>());
        var seq = await vault.ScalarAsync<long>("SELECT max(seq) FROM vault.audit_log WHERE action = 'test.time'");

        var anchor = await NextAnchorReachingAsync(anchors, seq);

        Assert.True(anchor.Seq >= seq);
    }

    private static async Task<AuditAnchor> NextAnchorReachingAsync(AuditAnchors anchors, long seq)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var next = anchors.NextAsync();
            if (anchors.Latest is { } latest && latest.Seq >= seq)
            {
                return latest;
            }
            var anchor = await next.WaitAsync(timeout.Token);
            if (anchor.Seq >= seq)
            {
                return anchor;
            }
        }
    }

    [Fact]
    public async Task The_scheduled_verification_reports_a_broken_chain_in_health_and_metrics()
    {
        await RowsAndAnchorAsync();
        await using var second = vault.SecondVault(("VerifyInterval", "00:00:00.200"));
        var verification = second.Services.GetRequiredService<AuditVerificationService>();
        using var client = second.CreateClient();
        using (var healthy = await client.GetAsync("/health/live"))
        {
            // Verified at start, or about to be.
            Assert.Contains(JsonDocument.Parse(await healthy.Content.ReadAsStringAsync()).RootElement.GetProperty("audit_chain").GetString(),
                new[] { "verified", "unchecked" });
        }

        // A row added behind the Vault's back, its MAC made up (the key is not in the database): the scheduled check
        // covers the rows added since its last run.
        long forged = 0;
        var (health, metrics) = await TamperedAsync(
            async conn =>
            {
                await using var cmd = new NpgsqlCommand("""
                    INSERT INTO vault.audit_log (at, action, merchant_id, subject, detail, prev_hash, n, key_version, mac)
                    SELECT now(), 'card.authorize', merchant_id, subject, detail, mac, n + 1, key_version, sha256(mac)
                    FROM vault.audit_log WHERE mac IS NOT NULL ORDER BY seq DESC LIMIT 1
                    RETURNING seq
                    """, conn);
                forged = (long)(await cmd.ExecuteScalarAsync())!;
            },
            async () =>
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                while ((await verification.NextRunAsync().WaitAsync(timeout.Token)).Valid)
                {
                }
                using var h = await client.GetAsync("/health/live");
                using var m = await client.GetAsync("/metrics");
                return (JsonDocument.Parse(await h.Content.ReadAsStringAsync()).RootElement.Clone(), await m.Content.ReadAsStringAsync());
            });

        Assert.Equal("broken", health.GetProperty("audit_chain").GetString());
        Assert.Equal("row_changed", health.GetProperty("audit_chain_problem").GetString());
        Assert.Equal(forged, health.GetProperty("audit_chain_broken_seq").GetInt64());
        Assert.Contains("payments_vault_audit_verification_valid", metrics, StringComparison.Ordinal);
        // Each Vault in this test process has its own gauge on the shared meter (a scrape shows the first one): read them all.
        var values = new List<double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Payments.Vault" && instrument.Name == "audit.verification.valid")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => values.Add(value));
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Contains(0.0, values);
    }

    [Fact]
    public async Task Rows_younger_than_twelve_months_cannot_be_purged_by_the_serving_role()
    {
        await RowsAndAnchorAsync();
        var head = await SeqAsync("SELECT max(seq) FROM vault.audit_log");
        // Rows up to the head, counted: the Host's feed reads may append rows meanwhile, so the head itself can move.
        var kept = $"SELECT count(*) FROM vault.audit_log WHERE seq <= {head}";
        var before = await SeqAsync(kept);
        await using var conn = new NpgsqlConnection(vault.ServingConnectionString);
        await conn.OpenAsync();

        var e = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(conn, "SELECT vault.purge_audit_log($1)", head));

        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
        Assert.Contains("12 months", e.MessageText, StringComparison.Ordinal);
        var (purged, _) = await Services.GetRequiredService<AuditRetention>().PurgeAsync(CancellationToken.None);
        Assert.Equal(0, purged); // nothing is past the 13-month retention
        Assert.Equal(before, await SeqAsync(kept));
    }

    [Fact]
    public async Task A_retention_under_twelve_months_is_refused_at_start()
    {
        var e = await StartupFailure.OfAsync(() => vault.SecondVault(("Retention", "300.00:00:00")));

        Assert.Contains("Retention", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_tokenization_feed_never_skips_a_success_while_submits_run_concurrently()
    {
        var cards = Services.GetRequiredService<CardVault>();
        var start = (await cards.ListSucceededAsync(0, 100_000, CancellationToken.None)).Select(s => s.Sequence).DefaultIfEmpty(0).Max();
        var merchant = VaultFixture.NewMerchant();
        var intents = new List<(string Id, string Secret)>();
        for (var i = 0; i < 24; i++)
        {
            intents.Add(await vault.RegisterIntentAsync(merchant));
        }

        var submits = Task.WhenAll(intents.Select(i => Task.Run(async () =>
        {
            using var response = await vault.SubmitCardAsync(i.Id, i.Secret);
            Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        })));
        // The feed is the whole Vault's: every success is checked for gaps; this test's own are counted.
        var ours = intents.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var seen = new List<TokenizationIntentSuccess>();
        var cursor = start;
        while (seen.Count < intents.Count)
        {
            // Looked at before the read: a submit that completes after an empty page is read on the next pass.
            var submitted = submits.IsCompleted;
            var page = await cards.ListSucceededAsync(cursor, 5, CancellationToken.None);
            foreach (var success in page)
            {
                // Gap-free and in commit order: the next success a reader sees is always the one after its cursor.
                Assert.Equal(cursor + 1, success.Sequence);
                cursor = success.Sequence;
                if (ours.Contains(success.IntentId))
                {
                    seen.Add(success);
                }
            }
            if (page.Count == 0 && submitted)
            {
                break;
            }
        }
        await submits;

        Assert.Equal(intents.Select(i => i.Id).Order(), seen.Select(s => s.IntentId).Order());
    }
}

/// <summary>Retention on a database of its own: rows written 13+ months ago (a Vault whose clock is set back) are purged.</summary>
public sealed class AuditRetentionTests
{
    [Fact]
    public async Task Rows_past_the_retention_are_purged_behind_a_checkpoint_and_the_chain_still_verifies()
    {
        var pg = await PostgresServer.SharedAsync();
        var db = await pg.CreateDatabaseAsync("vault_retention");
        await VaultStartup.MigrateAsync(db, null, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Vault"] = db,
            ["Vault:ServiceKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Vault:Kek:Components:0"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Vault:Kek:Components:1"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Vault:Audit:AnchorFile"] = Path.Combine(Path.GetTempPath(), "payments-audit-test-" + Guid.NewGuid().ToString("N") + ".jsonl"),
        };
        var past = new ShiftableClock();
        past.Advance(-TimeSpan.FromDays(420));
        await using (var old = new VaultFactory(settings).WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(past))))
        {
            var audit = old.Services.GetRequiredService<AuditLog>();
            for (var i = 0; i < 3; i++)
            {
                await audit.AppendAsync("test.old", null, null, new Dictionary<string, object?> { ["i"] = i });
            }
        }
        await using var vault = new VaultFactory(settings);
        var services = vault.Services;
        await services.GetRequiredService<AuditLog>().AppendAsync("test.new", null, null, new Dictionary<string, object?>());
        await using var data = NpgsqlDataSource.Create(db);
        await using (var count = data.CreateCommand("SELECT count(*) FROM vault.audit_log WHERE at < now() - interval '13 months'"))
        {
            Assert.True((long)(await count.ExecuteScalarAsync())! >= 3);
        }

        var (purged, through) = await services.GetRequiredService<AuditRetention>().PurgeAsync(CancellationToken.None);

        Assert.True(purged >= 3);
        await using (var left = data.CreateCommand("SELECT count(*) FROM vault.audit_log WHERE at < now() - interval '12 months'"))
        {
            Assert.Equal(0L, (long)(await left.ExecuteScalarAsync())!);
        }
        var (exit, output) = await AuditCommands.VerifyAsync(services, ["audit", "verify"], CancellationToken.None);
        var json = JsonSerializer.SerializeToElement(output, PaymentsJson.Options);
        Assert.True(exit == 0, json.ToString());
        Assert.Equal(through, json.GetProperty("purged_through_seq").GetInt64());
        Assert.True(json.GetProperty("rows").GetInt64() >= 2); // test.new and audit.purged at least
    }
}
