using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Transactions;
using Payments.Transactions.Lifecycle;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Transactions;

/// <summary>One merchant with payments in several states; every filter and sort is checked against the rows themselves.</summary>
public sealed class ListFixture : TransactionsFixture, IAsyncLifetime
{
    public MerchantClient Merchant { get; private set; } = null!;
    public List<string> Ids { get; } = [];

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        Merchant = await this.CreateMerchantClientAsync();
        var good = await this.TokenizeCardAsync(Merchant);
        var declining = await this.TokenizeCardAsync(Merchant, "4000000000000002");
        for (var i = 0; i < 4; i++)
        {
            Ids.Add(Str(await AuthorizeAsync(Merchant, good, amount: 500), "trx_id")); // equal amounts: ties broken by trx_id
        }
        Ids.Add(Str(await AuthorizeAsync(Merchant, good, amount: 300, operation: "authcap"), "trx_id"));
        Ids.Add(Str(await AuthorizeAsync(Merchant, declining, amount: 900), "trx_id"));
        await CaptureOrVoidAsync(Merchant, Ids[0], "capture", 100);
        await CaptureOrVoidAsync(Merchant, Ids[1], "void");
        await CaptureOrVoidAsync(Merchant, Ids[2], "capture");
    }
}

public sealed class ListTests(ListFixture gateway) : IClassFixture<ListFixture>
{
    private string Range()
    {
        var today = gateway.Clock.GetUtcNow().UtcDateTime.Date;
        return $"start_date={today:dd/MM/yyyy}&end_date={today.AddDays(1):dd/MM/yyyy}";
    }

    private async Task<JsonNode> ListAsync(string extra)
    {
        var (status, body, _) = await GetAsync(gateway.Merchant.Http, "/v1/transactions?" + Range() + extra);
        Assert.True(status == HttpStatusCode.OK, $"list answered {(int)status}: {body}");
        return body!;
    }

    [Theory]
    [InlineData("type", "ASC")]
    [InlineData("type", "DESC")]
    [InlineData("status", "ASC")]
    [InlineData("status", "DESC")]
    [InlineData("order_amount", "ASC")]
    [InlineData("order_amount", "DESC")]
    [InlineData("created_at", "ASC")]
    [InlineData("created_at", "DESC")]
    [InlineData("updated_at", "ASC")]
    [InlineData("updated_at", "DESC")]
    public async Task Every_sort_orders_stably_with_trx_id_breaking_ties(string sortBy, string direction)
    {
        var body = await ListAsync($"&limit=100&sort_by={sortBy}&sort_direction={direction}");

        var rows = body["data"]!.AsArray().Select(r => r!).ToList();
        Assert.Equal(gateway.Ids.Count, rows.Count);
        Assert.Equal(gateway.Ids.Count, Long(body, "total"));
        string Key(JsonNode r) => sortBy switch
        {
            "order_amount" => Long(r, "order_amount").ToString("D15", CultureInfo.InvariantCulture),
            "created_at" or "updated_at" => DateTimeOffset.Parse(Str(r, sortBy), CultureInfo.InvariantCulture).UtcTicks.ToString("D20", CultureInfo.InvariantCulture),
            _ => Str(r, sortBy),
        };
        var expected = direction == "ASC"
            ? rows.OrderBy(Key, StringComparer.Ordinal).ThenBy(r => Str(r, "trx_id"), StringComparer.Ordinal)
            : rows.OrderByDescending(Key, StringComparer.Ordinal).ThenByDescending(r => Str(r, "trx_id"), StringComparer.Ordinal);
        Assert.Equal(expected.Select(r => Str(r, "trx_id")), rows.Select(r => Str(r, "trx_id")));
    }

    [Fact]
    public async Task The_default_sort_is_updated_at_ascending()
    {
        var implicitOrder = await ListAsync("&limit=100");
        var explicitOrder = await ListAsync("&limit=100&sort_by=updated_at&sort_direction=ASC");

        Assert.Equal(explicitOrder["data"]!.ToJsonString(), implicitOrder["data"]!.ToJsonString());
    }

    [Theory]
    [InlineData("&status=AUTHORIZED", 1)]
    [InlineData("&status=PARTIAL_CAPTURED", 1)]
    [InlineData("&status=VOIDED", 1)]
    [InlineData("&status=CAPTURED", 2)]
    [InlineData("&status=DECLINED", 1)]
    [InlineData("&status=SETTLED", 0)]
    [InlineData("&type=PAYMENT", 6)]
    [InlineData("&type=REFUND", 0)]
    [InlineData("&type=PAYMENT&status=CAPTURED", 2)]
    public async Task Filters_narrow_the_rows_and_the_total(string filter, int count)
    {
        var body = await ListAsync("&limit=100" + filter);

        Assert.Equal(count, Long(body, "total"));
        Assert.Equal(count, body["data"]!.AsArray().Count);
        var status = filter.Contains("status=", StringComparison.Ordinal) ? filter[(filter.IndexOf("status=", StringComparison.Ordinal) + 7)..] : null;
        Assert.All(body["data"]!.AsArray(), r => Assert.True(status is null || Str(r, "status") == status));
    }

    [Fact]
    public async Task Pages_cover_the_rows_once_and_say_when_there_is_more()
    {
        // A limit at or below 10 is 10, so with this fixture's six rows a page is cut by its offset.
        var whole = await ListAsync("&limit=5&sort_by=created_at");
        var tail = await ListAsync($"&offset=4&sort_by=created_at&as_of={Uri.EscapeDataString(Str(whole, "as_of"))}");

        Assert.Equal(10, Long(whole, "limit"));
        Assert.False(whole["has_more"]!.GetValue<bool>());
        Assert.Equal(4, Long(tail, "offset"));
        Assert.Equal(2, tail["data"]!.AsArray().Count);
        var all = whole["data"]!.AsArray().Select(r => Str(r, "trx_id")).ToList();
        var ids = all.Take(4).Concat(tail["data"]!.AsArray().Select(r => Str(r, "trx_id"))).ToList();
        Assert.Equal(all, ids);
        Assert.Equal(gateway.Ids.Order(StringComparer.Ordinal), ids);
    }

    [Fact]
    public async Task The_as_of_watermark_leaves_out_rows_created_after_it()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await AuthorizeAsync(merchant, token);
        await AuthorizeAsync(merchant, token);
        async Task<JsonNode> List(string extra) =>
            (await GetAsync(merchant.Http, "/v1/transactions?" + Range() + "&sort_by=created_at" + extra)).Body!;
        var first = await List("");
        var asOf = Str(first, "as_of");

        await AuthorizeAsync(merchant, token);
        var again = await List($"&as_of={Uri.EscapeDataString(asOf)}");
        var now = await List("");

        Assert.Equal(2, Long(first, "total"));
        Assert.Equal(first["data"]!.ToJsonString(), again["data"]!.ToJsonString());
        Assert.Equal(2, Long(again, "total"));
        Assert.Equal(3, Long(now, "total"));
    }

    [Fact]
    public async Task A_payment_stamped_before_the_first_page_but_committed_after_it_stays_off_the_pages_of_its_as_of()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var token = await gateway.TokenizeCardAsync(merchant);
        await AuthorizeAsync(merchant, token);
        async Task<JsonNode> List(string extra) =>
            (await GetAsync(merchant.Http, "/v1/transactions?" + Range() + "&sort_by=created_at" + extra)).Body!;
        var slowOrder = "slow_" + Guid.NewGuid().ToString("N")[..12];
        // The payment's created_at is stamped, then its insert waits inside its transaction: not committed yet.
        await using var stall = await CommitStall.StartAsync(gateway, slowOrder, "INSERT", $"NEW.order_id = '{slowOrder}'");
        var slow = AuthorizeAsync(merchant, token, orderId: slowOrder);
        await stall.WaitAsync();
        var first = await List("");
        await stall.ReleaseAsync();
        await slow;
        var again = await List($"&as_of={Uri.EscapeDataString(Str(first, "as_of"))}");
        var now = await List("");

        Assert.Equal(1, Long(first, "total"));
        // Before docs/adr/0039 the first page's as_of was the time it was read, after the slow payment's created_at:
        // committed, it showed up under that as_of and the pages shifted.
        Assert.Equal((1L, first["data"]!.ToJsonString()), (Long(again, "total"), again["data"]!.ToJsonString()));
        Assert.Equal(2, Long(now, "total"));
    }

    [Fact]
    public async Task The_end_date_is_taken_at_midnight_so_its_own_day_is_outside()
    {
        var today = gateway.Clock.GetUtcNow().UtcDateTime.Date;

        var (status, body, _) = await GetAsync(gateway.Merchant.Http,
            $"/v1/transactions?start_date={today.AddDays(-1):dd/MM/yyyy}&end_date={today:dd/MM/yyyy}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, Long(body, "total"));
    }
    [Fact]
    public async Task Totals_count_each_row_once_whatever_day_and_hour_the_range_is_cut_in()
    {
        // Rows written straight into the table at chosen instants (the counts are kept by the table's triggers,
        // whatever writes it), around the day and hour boundaries the total is assembled from.
        var merchant = await gateway.CreateMerchantClientAsync();
        var day = gateway.Clock.GetUtcNow().UtcDateTime.Date.AddDays(-3);
        DateTime[] at =
        [
            day.AddTicks(-10), day, day.AddHours(5).AddMinutes(10), day.AddHours(6).AddTicks(-10), day.AddHours(6),
            day.AddHours(6).AddMinutes(30), day.AddHours(23).AddMinutes(59), day.AddDays(1), day.AddDays(1).AddHours(2),
        ];
        await using var db = new NpgsqlConnection(gateway.HostConnectionString);
        await db.OpenAsync();
        for (var i = 0; i < at.Length; i++)
        {
            await InsertPaymentRowAsync(db, $"trx_counted{i:D2}{Guid.NewGuid():N}"[..30], merchant.MerchantId, at[i]);
        }
        // Status changes move rows between counters; a deleted row leaves them.
        foreach (var (sql, i) in new[]
                 {
                     ("UPDATE transactions.transactions SET captured_amount = 1000 WHERE merchant_id = $1 AND created_at = $2", 1),
                     ("UPDATE transactions.transactions SET captured_amount = 1000 WHERE merchant_id = $1 AND created_at = $2", 5),
                     ("DELETE FROM transactions.transactions WHERE merchant_id = $1 AND created_at = $2", 7),
                 })
        {
            await using var change = new NpgsqlCommand(sql, db);
            change.Parameters.Add(new() { Value = merchant.MerchantId });
            change.Parameters.Add(new() { Value = new DateTimeOffset(at[i], TimeSpan.Zero) });
            Assert.Equal(1, await change.ExecuteNonQueryAsync());
        }
        var rows = at.Select((t, i) => (At: t, Status: i is 1 or 5 ? "CAPTURED" : "AUTHORIZED")).Where((_, i) => i != 7).ToList();

        var range = $"start_date={day:dd/MM/yyyy}&end_date={day.AddDays(1):dd/MM/yyyy}";
        DateTime?[] cuts = [null, day.AddHours(5).AddMinutes(30), day.AddHours(6), day.AddHours(6).AddMinutes(15), day.AddDays(1), day.AddTicks(-10)];
        foreach (var cut in cuts)
        {
            foreach (var status in new string?[] { null, "CAPTURED", "AUTHORIZED" })
            {
                var query = "/v1/transactions?" + range + (status is null ? "" : "&status=" + status) +
                            (cut is { } c ? "&as_of=" + Uri.EscapeDataString(c.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture)) : "");
                var (code, body, _) = await GetAsync(merchant.Http, query);
                var end = cut is { } c2 && c2 < day.AddDays(1) ? c2 : day.AddDays(1);
                var expected = rows.Count(r => r.At >= day && r.At <= end && (status is null || r.Status == status));
                Assert.True(code == HttpStatusCode.OK, $"{query}: {(int)code} {body}");
                Assert.True(expected == Long(body, "total"), $"{query}: total {Long(body, "total")}, expected {expected}");
            }
        }

        // The counters (totals and deltas not yet folded) agree with the rows, bucket by bucket.
        Assert.Equal(0L, await CountersDisagreeingAsync(db, merchant.MerchantId, withDeltas: true));
    }

    [Fact]
    public async Task Folding_the_counters_while_rows_change_keeps_every_total_exact()
    {
        var merchant = await gateway.CreateMerchantClientAsync();
        var start = gateway.Clock.GetUtcNow().UtcDateTime.Date.AddDays(-2);
        var writing = 1;
        // Four writers insert rows over two days and capture every other one (a status change moves it between
        // counters), while two folds run with a small batch, so deltas are folded between and during the changes.
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            await using var db = new NpgsqlConnection(gateway.HostConnectionString);
            await db.OpenAsync();
            for (var i = 0; i < 40; i++)
            {
                var trxId = $"trx_fold{w}{i:D2}" + Guid.NewGuid().ToString("N")[..16];
                await InsertPaymentRowAsync(db, trxId, merchant.MerchantId, start.AddMinutes(((w * 40) + i) * 17));
                if (i % 2 == 0)
                {
                    await using var capture = new NpgsqlCommand("UPDATE transactions.transactions SET captured_amount = 1000 WHERE trx_id = $1", db);
                    capture.Parameters.Add(new() { Value = trxId });
                    await capture.ExecuteNonQueryAsync();
                }
            }
        })).ToList();
        var folds = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            long folded = 0;
            await using var db = new NpgsqlConnection(gateway.HostConnectionString);
            await db.OpenAsync();
            while (Volatile.Read(ref writing) == 1)
            {
                await using var fold = new NpgsqlCommand("SELECT transactions.fold_list_counts(7)", db);
                folded += (long)(await fold.ExecuteScalarAsync())!;
            }
            return folded;
        })).ToList();
        await Task.WhenAll(writers);
        Volatile.Write(ref writing, 0);
        var foldedWhileWriting = (await Task.WhenAll(folds)).Sum();

        await using var conn = new NpgsqlConnection(gateway.HostConnectionString);
        await conn.OpenAsync();
        Assert.Equal(0L, await CountersDisagreeingAsync(conn, merchant.MerchantId, withDeltas: true));
        while (true)
        {
            await using var fold = new NpgsqlCommand("SELECT transactions.fold_list_counts(10000)", conn);
            if ((long)(await fold.ExecuteScalarAsync())! == 0)
            {
                break;
            }
        }
        await using var left = new NpgsqlCommand("SELECT count(*) FROM transactions.list_count_deltas WHERE merchant_id = $1", conn);
        left.Parameters.Add(new() { Value = merchant.MerchantId });
        Assert.Equal(0L, await left.ExecuteScalarAsync());
        Assert.Equal(0L, await CountersDisagreeingAsync(conn, merchant.MerchantId, withDeltas: false));
        Assert.True(foldedWhileWriting > 0, "no fold ran while rows changed: the test proved nothing");
        var (code, body, _) = await GetAsync(merchant.Http,
            $"/v1/transactions?start_date={start:dd/MM/yyyy}&end_date={start.AddDays(2):dd/MM/yyyy}&status=CAPTURED");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal(80, Long(body, "total"));
    }

    [Fact]
    public async Task The_folder_leaves_deltas_below_its_threshold_and_folds_them_all_above_it()
    {
        var folder = gateway.HostServices.GetRequiredService<ListCountFolder>();
        var threshold = gateway.HostServices.GetRequiredService<IOptions<TransactionsOptions>>().Value.ListCountFoldThreshold;
        var merchant = await gateway.CreateMerchantClientAsync();
        await using var db = new NpgsqlConnection(gateway.HostConnectionString);
        await db.OpenAsync();
        // One statement of rows an hour apart: each row is an hourly bucket of its own, so each adds a delta. Their
        // authorizations lapse after the test: the Host's minutely expiry sweep would otherwise expire the older ones
        // after the fold, each status change adding deltas of its own (a fresh-clone run found 428 left).
        async Task InsertHourlyAsync(string tag, int count)
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO transactions.transactions (trx_id, merchant_id, type, order_amount, currency, order_id,
                                                       authorization_expires_at, created_at, updated_at)
                SELECT 'trx_' || $3 || lpad(g::text, 22, 'x'), $1, 'PAYMENT', 1000, 'USD', 'hourly',
                       $2 + interval '30 days', $2 - g * interval '1 hour', $2 - g * interval '1 hour'
                  FROM generate_series(1, $4) g
                """, db);
            insert.Parameters.Add(new() { Value = merchant.MerchantId });
            insert.Parameters.Add(new() { Value = gateway.Clock.GetUtcNow().AddDays(-3) });
            insert.Parameters.Add(new() { Value = tag });
            insert.Parameters.Add(new() { Value = count });
            await insert.ExecuteNonQueryAsync();
        }
        async Task<long> PendingAsync()
        {
            await using var count = new NpgsqlCommand("SELECT count(*) FROM transactions.list_count_deltas", db);
            return (long)(await count.ExecuteScalarAsync())!;
        }
        await using (var clear = new NpgsqlCommand("SELECT transactions.fold_list_counts(1000000)", db))
        {
            await clear.ExecuteScalarAsync();
        }

        await InsertHourlyAsync("few", 10);
        var few = await PendingAsync();
        var foldedFew = await folder.FoldAsync(CancellationToken.None);
        Assert.InRange(few, 10, threshold - 1);
        Assert.Equal(0, foldedFew);
        Assert.Equal(few, await PendingAsync());

        await InsertHourlyAsync("many", threshold);
        await folder.FoldAsync(CancellationToken.None); // the Host's own folder may have been first: either way, none is left
        Assert.Equal(0, await PendingAsync());
        Assert.Equal(0L, await CountersDisagreeingAsync(db, merchant.MerchantId, withDeltas: false));
    }

    /// <summary>
    /// An authorized payment of 1,000 written straight into the table at <paramref name="createdAt"/> (UTC): the counts
    /// are kept by the table's triggers, whatever writes it.
    /// </summary>
    private static async Task InsertPaymentRowAsync(NpgsqlConnection db, string trxId, string merchantId, DateTime createdAt)
    {
        await using var insert = new NpgsqlCommand("""
            INSERT INTO transactions.transactions (trx_id, merchant_id, type, order_amount, currency, order_id,
                                                   authorization_expires_at, created_at, updated_at)
            VALUES ($1, $2, 'PAYMENT', 1000, 'USD', 'counted', $3 + interval '7 days', $3, $3)
            """, db);
        insert.Parameters.Add(new() { Value = trxId });
        insert.Parameters.Add(new() { Value = merchantId });
        insert.Parameters.Add(new() { Value = new DateTimeOffset(createdAt, TimeSpan.Zero) });
        await insert.ExecuteNonQueryAsync();
    }

    /// <summary>Buckets where the counters and the rows differ (plus one if the merchant has no rows: nothing was compared).</summary>
    private static async Task<long> CountersDisagreeingAsync(NpgsqlConnection db, string merchantId, bool withDeltas)
    {
        var deltas = withDeltas
            ? "UNION ALL SELECT span, bucket, type, status, n FROM transactions.list_count_deltas WHERE merchant_id = $1"
            : "";
        await using var agree = new NpgsqlCommand($"""
            WITH counters AS (
                SELECT span, bucket, type, status, n FROM transactions.list_counts WHERE merchant_id = $1
                {deltas}),
            counted AS (SELECT span, bucket, type, status, sum(n) AS n FROM counters GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0),
            actual AS (
                SELECT s.span, date_trunc(s.unit, created_at, 'UTC') AS bucket, type, status, count(*) AS n
                  FROM transactions.transactions CROSS JOIN (VALUES ('d'::"char", 'day'), ('h'::"char", 'hour')) s(span, unit)
                 WHERE merchant_id = $1 GROUP BY 1, 2, 3, 4)
            SELECT (SELECT count(*) FROM (SELECT * FROM counted EXCEPT SELECT * FROM actual) a)
                 + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM counted) b)
                 + (SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END FROM actual)
            """, db);
        agree.Parameters.Add(new() { Value = merchantId });
        return (long)(await agree.ExecuteScalarAsync())!;
    }
}
