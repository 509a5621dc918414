using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Vault.Contracts;
using Payments.Webhooks.Delivery;

namespace Payments.IntegrationTests.Webhooks;

/// <summary>
/// The gateway with webhooks configured for quick tests: a sealing key, retries after 100 ms doubling to 400 ms, and
/// an endpoint disabled after 3 s of failures. The acquirer behind the Vault client is a stand-in that approves every
/// card, so no tokenization events interleave with the sequences these tests count (<see cref="RealVaultWebhooksFixture"/>
/// runs the real Vault).
/// </summary>
public class WebhooksFixture : GatewayFixture
{
    public Dictionary<string, string?> HostSettings { get; private set; } = [];

    /// <summary>Names the tests resolve to loopback, as a DNS record pointing inside would.</summary>
    internal static readonly Dictionary<string, IPAddress> FakeDns = new(StringComparer.OrdinalIgnoreCase)
    {
        ["hooks.merchant-example.com"] = IPAddress.Loopback,
    };

    protected virtual string Mode => "Sandbox";

    protected override void ConfigureHost(Dictionary<string, string?> settings)
    {
        settings["Gateway:Mode"] = Mode;
        settings["Auth:KeyEncryptionKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        settings["Webhooks:SecretKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        settings["Idempotency:SecretKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        settings["Webhooks:RetryBaseDelay"] = "00:00:00.100";
        settings["Webhooks:MaxRetryDelay"] = "00:00:00.400";
        // Short, so the disabling test ends soon, yet wide enough that a stall of a loaded machine between a failing
        // receiver's first attempts, or in one answer, does not disable an endpoint or repeat a delivered event.
        settings["Webhooks:RetryFor"] = "00:00:10";
        settings["Webhooks:AttemptTimeout"] = "00:00:10";
        settings["Webhooks:LeaseMargin"] = "00:00:01";
        settings["Webhooks:PollInterval"] = "00:00:00.100";
        settings["Transactions:OutboxPollInterval"] = "00:00:00.200";
        settings["Transactions:ScheduledSettlement"] = "false";
        HostSettings = settings;
    }

    protected override void ConfigureHostServices(IServiceCollection services) => AddStandIns(services);

    internal static void AddStandIns(IServiceCollection services)
    {
        services.AddSingleton<IVaultClient, ApprovingVault>();
        services.AddSingleton<IWebhookHostResolver, TestResolver>();
    }

    /// <summary>The outbox, event and delivery tables in a few lines, for a failing test's message.</summary>
    public async Task<string> DescribeAsync(IServiceProvider? services = null)
    {
        try
        {
            var db = (services ?? HostServices).GetRequiredService<Npgsql.NpgsqlDataSource>();
            var lines = new List<string>();
            foreach (var sql in new[]
                     {
                         "SELECT 'outbox ' || count(*) || ' pending ' || count(*) FILTER (WHERE dispatched_at IS NULL) || ' max attempts ' || coalesce(max(attempts), 0) FROM transactions.outbox",
                         "SELECT 'events ' || count(*) FROM webhooks.events",
                         "SELECT 'delivery ' || endpoint_id || ' #' || sequence || ' ' || state || ' attempts ' || attempts || ' ' || coalesce(last_error, '') FROM webhooks.deliveries ORDER BY id DESC LIMIT 10",
                         "SELECT 'endpoint ' || id || ' ' || status || ' lease ' || coalesce(lease_until::text, '-') FROM webhooks.endpoints ORDER BY created_at DESC LIMIT 5",
                     })
            {
                await using var cmd = db.CreateCommand(sql);
                await using var r = await cmd.ExecuteReaderAsync();
                while (await r.ReadAsync())
                {
                    lines.Add(r.GetString(0));
                }
            }
            return string.Join("\n", lines);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or ObjectDisposedException or InvalidOperationException)
        {
            return "(no diagnostics: " + e.GetType().Name + ")";
        }
    }

    /// <summary>A second Host on the same databases (another process, or this one after a restart).</summary>
    public HostFactory NewHost() => new(HostSettings, Vault, AddStandIns);

    internal sealed class TestResolver : IWebhookHostResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) =>
            FakeDns.TryGetValue(host, out var ip) ? Task.FromResult(new[] { ip }) : Dns.GetHostAddressesAsync(host, ct);
    }
}

public sealed class LiveWebhooksFixture : WebhooksFixture
{
    protected override string Mode => "Live";
}

/// <summary>The gateway with the real Vault behind the Host (tokenization included), webhooks configured as above.</summary>
public sealed class RealVaultWebhooksFixture : WebhooksFixture
{
    protected override void ConfigureHostServices(IServiceCollection services) =>
        services.AddSingleton<IWebhookHostResolver, TestResolver>();
}

/// <summary>Approves every authorization and refund, as the sandbox acquirer does for a good card.</summary>
internal sealed class ApprovingVault : IVaultClient
{
    public Task<AcquirerOutcome> AuthorizeAsync(string merchantId, AcquirerRequest request, CancellationToken ct) =>
        Task.FromResult(new AcquirerOutcome(true, true, "A" + Random.Shared.Next(100000, 999999), null, "visa", "4242"));

    public Task<AcquirerOutcome> RefundAsync(string merchantId, AcquirerRequest request, CancellationToken ct) =>
        Task.FromResult(new AcquirerOutcome(true, true, "R" + Random.Shared.Next(100000, 999999), null, "visa", "4242"));

    public Task RegisterTokenizationIntentAsync(string merchantId, TokenizationIntentRegistration intent, CancellationToken ct) =>
        throw new NotSupportedException();

    public Task<TokenizationIntentState?> GetTokenizationIntentAsync(string merchantId, string intentId, CancellationToken ct) =>
        throw new NotSupportedException();

    public Task<CardDisplay?> GetCardAsync(string merchantId, string cardToken, CancellationToken ct) =>
        Task.FromResult<CardDisplay?>(new CardDisplay("visa", "4242", 12, 2030, "fp"));

    public Task<bool> DeleteCardAsync(string merchantId, string cardToken, CancellationToken ct) => Task.FromResult(true);
}
