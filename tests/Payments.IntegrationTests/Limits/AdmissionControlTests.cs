using System.Diagnostics;
using System.Net;
using Npgsql;
using Payments.IntegrationTests.Transactions;
using Payments.TestKit;
using static Payments.IntegrationTests.Transactions.Api;

namespace Payments.IntegrationTests.Limits;

/// <summary>One place for writes and no queue, so the second concurrent write is shed.</summary>
public sealed class OnePlaceFixture : TransactionsFixture
{
    protected override void ConfigureHost(Dictionary<string, string?> settings)
    {
        base.ConfigureHost(settings);
        settings["Admission:MaxConcurrent"] = "1";
        settings["Admission:QueueLimit"] = "0";
        settings["Admission:QueueTimeout"] = "00:00:00.010";
    }
}

public sealed class AdmissionControlTests(OnePlaceFixture gateway) : IClassFixture<OnePlaceFixture>
{
    [Fact]
    public async Task Past_capacity_a_write_is_shed_at_once_with_503_while_reads_are_served_and_its_key_stays_free()
    {
        var merchant = await gateway.LimitedMerchantAsync(rps: 1000);
        using var refusals = new AdmissionRefusalProbe();
        await using var db = NpgsqlDataSource.Create(gateway.HostConnectionString);
        await using var holder = await db.OpenConnectionAsync();
        await using var tx = await holder.BeginTransactionAsync();
        await using (var lockCmd = new NpgsqlCommand("LOCK TABLE intents.payment_intents IN ACCESS EXCLUSIVE MODE", holder, tx))
        {
            await lockCmd.ExecuteNonQueryAsync();
        }
        // The first write takes the only place and waits on the lock.
        var first = PostAsync(merchant.Http, "/v1/payment-intents", Limited.Intent("o-first"), Guid.NewGuid().ToString());
        // The write's own statement: a background sweep waiting on the lock is not the write.
        await LockWaits.UntilWaitingAsync(db, "INSERT INTO intents.payment_intents", "the first write");

        var key = Guid.NewGuid().ToString();
        var watch = Stopwatch.StartNew();
        var shed = await PostAsync(merchant.Http, "/v1/payment-intents", Limited.Intent("o-shed"), key);
        watch.Stop();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, shed.Status);
        Assert.Equal("overloaded", shed.Body?["code"]?.GetValue<string>());
        Assert.True(shed.Response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        // The held write would keep it waiting forever: well under that is "at once" (the client's answer check compiles
        // a schema on first use, which a loaded CI machine has taken seconds over).
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the refusal took {watch.Elapsed}");

        // Shed before authentication: even a caller without a token gets 503, not 401 (no Redis, no database).
        using var anonymous = gateway.CreateClient(expectRefusals: true);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await PostAsync(anonymous, "/v1/payment-intents", Limited.Intent("o-anon"))).Status);
        // Each shed write is counted where the dashboard's refusal panel looks (ADR 120): rate_limit.refusals{limit="admission"}.
        Assert.True(refusals.Count >= 2, $"{refusals.Count} admission refusals counted");
        // Reads and health are served meanwhile.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(merchant.Http, Limited.ListPath)).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(anonymous, "/health/live")).Status);

        await tx.CommitAsync();
        Assert.Equal(HttpStatusCode.Created, (await first).Status);
        var retried = await PostAsync(merchant.Http, "/v1/payment-intents", Limited.Intent("o-shed"), key);
        Assert.True(retried.Status == HttpStatusCode.Created, $"the retry with the shed key answered {(int)retried.Status}: {retried.Body}");
        Assert.False(retried.Response.Headers.Contains("Idempotent-Replayed"));
    }

    /// <summary>Counts the Host meter's rate-limit refusals labelled <c>admission</c> while it lives.</summary>
    private sealed class AdmissionRefusalProbe : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener listener = new();
        private long count;

        public AdmissionRefusalProbe()
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Payments.Gateway" && instrument.Name == "rate_limit.refusals")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag is { Key: "limit", Value: "admission" })
                    {
                        Interlocked.Add(ref count, value);
                    }
                }
            });
            listener.Start();
        }

        public long Count => Interlocked.Read(ref count);

        public void Dispose() => listener.Dispose();
    }
}
