using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Payments.TestKit;

/// <summary>
/// A whole gateway for a test class: real PostgreSQL and Redis, a fresh Host database and Vault database,
/// the Vault and the Host booted in-process and talking over HTTP. Share it with <c>IClassFixture</c>.
/// </summary>
public class GatewayFixture : IAsyncLifetime
{
    private VaultFactory? vault;
    private HostFactory? host;

    public PostgresServer Postgres { get; private set; } = null!;
    public RedisServer Redis { get; private set; } = null!;
    public string HostConnectionString { get; private set; } = "";
    public string VaultConnectionString { get; private set; } = "";

    /// <summary>The shared secret the Host signs its Vault calls with.</summary>
    public string ServiceKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public HostFactory Host => host ?? throw new InvalidOperationException("The fixture is not initialized.");
    public VaultFactory Vault => vault ?? throw new InvalidOperationException("The fixture is not initialized.");

    public IServiceProvider HostServices => Host.Services;

    public async Task InitializeAsync()
    {
        Postgres = await UsePostgresAsync();
        Redis = await UseRedisAsync();
        HostConnectionString = await Postgres.CreateDatabaseAsync("host");
        VaultConnectionString = await Postgres.CreateDatabaseAsync("vault");
        // As run.sh does: the one-shot migration step first; the Vault then serves without migrating.
        await Payments.Vault.VaultStartup.MigrateAsync(VaultConnectionString, null, NullLogger.Instance, CancellationToken.None);

        var vaultSettings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Vault"] = VaultConnectionString,
            ["Vault:ServiceKey"] = ServiceKey,
            // The KEK in two full-length components (the Vault refuses to start without one).
            ["Vault:Kek:Components:0"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Vault:Kek:Components:1"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        };
        ConfigureVault(vaultSettings);
        vault = new VaultFactory(vaultSettings);
        if (UseKestrel)
        {
            vault.UseKestrel(0);
            vault.StartServer();
        }
        else
        {
            _ = vault.Server; // boot now: migrations run before the first test
        }

        var hostSettings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Payments"] = HostConnectionString,
            ["ConnectionStrings:Redis"] = Redis.ConnectionString,
            ["Vault:BaseUrl"] = vault.BaseAddress.ToString(),
            ["Vault:ServiceKey"] = ServiceKey,
            ["Gateway:Mode"] = "Sandbox",
            // The production hash cost (600k PBKDF2 rounds) would dominate every test that signs in; the
            // Auth tests that measure the hash itself set their own.
            ["Auth:SecretHashIterations"] = "1000",
        };
        foreach (var (k, v) in SuiteLimits.HostSettings)
        {
            hostSettings[k] = v;
        }
        ConfigureHost(hostSettings);
        host = new HostFactory(hostSettings, vault, ConfigureHostServices, overVaultSocket: UseKestrel);
        if (UseKestrel)
        {
            host.UseKestrel(0);
            host.StartServer();
        }
        else
        {
            _ = host.Server;
        }
    }

    /// <summary>
    /// True to serve the Host and the Vault on real loopback ports (for a browser, or programs in other languages);
    /// then the Host reaches the Vault over a real socket too. <see cref="HostFactory.BaseAddress"/> and
    /// <see cref="VaultFactory.BaseAddress"/> give the URLs.
    /// </summary>
    protected virtual bool UseKestrel => false;

    /// <summary>Override to use a private server (for tests that stop it).</summary>
    protected virtual Task<PostgresServer> UsePostgresAsync() => PostgresServer.SharedAsync();

    /// <summary>Override to use a private server (for tests that stop it).</summary>
    protected virtual Task<RedisServer> UseRedisAsync() => RedisServer.SharedAsync();

    protected virtual void ConfigureHost(Dictionary<string, string?> settings)
    {
    }

    protected virtual void ConfigureVault(Dictionary<string, string?> settings)
    {
    }

    protected virtual void ConfigureHostServices(IServiceCollection services)
    {
    }

    /// <summary>
    /// An anonymous client of the merchant API. Every answer it receives is checked against the Host's OpenAPI
    /// document (<see cref="OpenApiAnswerValidator"/>): a disagreement fails the test that made the call. A 429 from the
    /// merchant rate limiter or a 503 <c>overloaded</c> fails the call too unless <paramref name="expectRefusals"/>: no
    /// test passes or fails by the luck of timing.
    /// </summary>
    public HttpClient CreateClient(bool expectRefusals = false)
    {
        var validator = OpenApiAnswerValidator.ReadingFrom(() => Host.CreateClient());
        return expectRefusals
            ? Host.CreateDefaultClient(Host.ClientOptions.BaseAddress, validator)
            : Host.CreateDefaultClient(Host.ClientOptions.BaseAddress, new UnexpectedRefusalGuard(), validator);
    }

    public virtual async Task DisposeAsync()
    {
        if (host is not null)
        {
            await host.DisposeAsync();
        }
        if (vault is not null)
        {
            await vault.DisposeAsync();
        }
    }
}
