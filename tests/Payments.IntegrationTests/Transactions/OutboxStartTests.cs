using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.Transactions;
using Payments.Transactions.Data;

namespace Payments.IntegrationTests.Transactions;

/// <summary>
/// The relay takes nothing from the outbox before the Host has started: Wolverine, started after the modules' hosted
/// services, refuses messages until then, and a relay that leased the rows a crash left pending failed them all.
/// </summary>
public sealed class OutboxStartTests(TransactionsFixture gateway) : IClassFixture<TransactionsFixture>
{
    [Fact]
    public async Task The_relay_leases_nothing_until_the_host_has_started()
    {
        // A database of its own, so the fixture's running relay cannot take the row either.
        var cs = await gateway.Postgres.CreateDatabaseAsync("relaystart");
        await using var db = NpgsqlDataSource.Create(cs);
        await SqlMigrationRunner.ApplyAsync(db, [TransactionsModule.Definition.Migrations], NullLogger.Instance);
        // Unreadable on purpose: leasing it is observable (attempts) and delivering it changes nothing anywhere.
        await using (var insert = db.CreateCommand("""
            INSERT INTO transactions.outbox (event_id, merchant_id, type, payload, created_at)
            VALUES ($1, $2, 'payment.authorized', '[]', now())
            """))
        {
            insert.Parameters.Add(new() { Value = "evt_" + Guid.NewGuid().ToString("N") });
            insert.Parameters.Add(new() { Value = "mer_" + Guid.NewGuid().ToString("N") });
            await insert.ExecuteNonQueryAsync();
        }
        using var lifetime = new Lifetime();
        using var signal = new OutboxSignal();
        var relay = new OutboxRelay(db, gateway.HostServices.GetRequiredService<IServiceScopeFactory>(), signal,
            Options.Create(new TransactionsOptions { OutboxPollInterval = TimeSpan.FromMilliseconds(50) }), lifetime,
            NullLogger<OutboxRelay>.Instance);
        async Task<long> AttemptsAsync()
        {
            await using var cmd = db.CreateCommand("SELECT attempts FROM transactions.outbox");
            return Convert.ToInt64(await cmd.ExecuteScalarAsync());
        }

        await relay.StartAsync(CancellationToken.None);
        try
        {
            // Twenty poll intervals and a kick: a relay not waiting for the start has leased the row long before.
            signal.Kick();
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Equal(0, await AttemptsAsync());

            lifetime.Start();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (await AttemptsAsync() == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.Equal(1, await AttemptsAsync());
        }
        finally
        {
            await relay.StopAsync(CancellationToken.None);
        }
    }

    private sealed class Lifetime : IHostApplicationLifetime, IDisposable
    {
        private readonly CancellationTokenSource started = new();
        private readonly CancellationTokenSource stopping = new();
        private readonly CancellationTokenSource stopped = new();

        public CancellationToken ApplicationStarted => started.Token;

        public CancellationToken ApplicationStopping => stopping.Token;

        public CancellationToken ApplicationStopped => stopped.Token;

        public void Start() => started.Cancel();

        public void StopApplication() => stopping.Cancel();

        public void Dispose()
        {
            started.Dispose();
            stopping.Dispose();
            stopped.Dispose();
        }
    }
}
