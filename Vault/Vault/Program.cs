using Carter;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption;
using Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Npgsql;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Logging;
using Payments.BuildingBlocks.Observability;
using Payments.BuildingBlocks.RateLimiting;
using Payments.Vault.Acquirer;
using Payments.Vault.Audit;
using Payments.Vault.Cards;
using Payments.Vault.Commands;
using Payments.Vault.Crypto;
using Payments.Vault.Features.CardEntry;
using Payments.Vault.Features.Health;
using Payments.Vault.Features.Internal;
using Payments.Vault.Observability;
using Payments.Vault.Security;

namespace Payments.Vault;

public sealed partial class Program
{
    public static async Task<int> Main(string[] args)
    {
        ProcessHardening.MakeNonDumpable(); // before any secret is read
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.AddRedactedConsole();
        builder.AddVaultTelemetry();
        builder.UseGatewayListeners(new Dictionary<ListenerRole, string>
        {
            // The port layout (ADR 0015): the card-entry page for browsers, the service API for the Host only.
            [ListenerRole.Public] = "http://127.0.0.1:5090",
            [ListenerRole.Internal] = "http://127.0.0.1:5091",
            [ListenerRole.Management] = "http://127.0.0.1:5092",
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 16 * 1024;
            k.AddServerHeader = false;
        });

        var services = builder.Services;
        var config = builder.Configuration;
        var connectionString = config.GetConnectionString("Vault")
                               ?? throw new InvalidOperationException("ConnectionStrings:Vault is not set.");
        services.AddSingleton(_ => PostgresDataSource.Create(connectionString));
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<VaultOptions>().Bind(config.GetSection("Vault"));
        services.Configure<GatewayOptions>(config.GetSection(GatewayOptions.Section)); // PublicBaseUrl: a problem's type
        services.AddHostedService<VaultStartup>();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = VaultResults.Shape);
        services.AddExceptionHandler<VaultExceptionHandler>();
        services.ConfigureHttpJsonOptions(o => PaymentsJson.Configure(o.SerializerOptions));

        services.AddSingleton<Kek>();
        services.AddSingleton<AuditLog>();
        services.AddAuditChain(config);
        services.AddSingleton<PostgresXmlRepository>();
        services.AddSingleton<CardKeyRing>();
        services.AddSingleton<CardCipher>();
        services.AddSingleton<Fingerprints>();
        services.AddSingleton<CvcStore>();
        services.AddSingleton<CardVault>();
        services.AddSingleton<AcquirerAttempts>();
        services.AddHostedService<AcquirerAttemptsPurge>();
        services.AddSingleton<KeyOperations>();
        // Key custody (docs/adr/0125..0130): KEK versions, keys wrapped under the KEK, per-merchant data keys.
        services.AddSingleton<KekCustody>();
        services.AddSingleton<WrappedKeys>();
        services.AddSingleton<MerchantKeys>();
        services.AddHostedService<KeyDestructionListener>();
        services.AddSingleton<IAuditKey, WrappedAuditKey>();
        services.AddSingleton<Approvals>();
        services.AddSingleton<CardRetention>();
        services.AddHostedService<RetentionSweep>();
        services.AddDualControl();
        services.AddVaultSecurity();
        // Not the Host's swept defaults (ADR 40): the Vault serves every Host, and its card uses share group commits,
        // so more of them in flight make its commits cheaper. Configured before the section, which still overrides.
        services.Configure<AdmissionOptions>(o =>
        {
            o.MaxConcurrent = 48;
            o.QueueLimit = 48;
            o.QueueTimeout = TimeSpan.FromMilliseconds(10);
            o.OverloadQueueLimit = 48;
            o.OverloadQueueTimeout = TimeSpan.FromMilliseconds(10);
            o.RefusalDetail = "The card vault is at capacity; retry after the Retry-After delay.";
        });
        // Its refusals count on the Vault's meter (payments_vault_rate_limit_refusals_total), not the Host's.
        services.AddSingleton(new AdmissionRefusals(static () => VaultTelemetry.RateLimited(AdmissionRefusals.LimitName)));
        services.AddAdmissionControl(config);

        var keyLifetime = config.GetSection("Vault").Get<VaultOptions>()?.KeyLifetime ?? TimeSpan.FromDays(90);
        services.AddDataProtection()
            .SetApplicationName("payments-vault")
            .SetDefaultKeyLifetime(keyLifetime)
            .UseCryptographicAlgorithms(new AuthenticatedEncryptorConfiguration
            {
                EncryptionAlgorithm = EncryptionAlgorithm.AES_256_GCM,
                ValidationAlgorithm = ValidationAlgorithm.HMACSHA256, // unused with GCM, which authenticates itself
            });
        services.AddOptions<KeyManagementOptions>().Configure<IServiceProvider>((o, sp) =>
        {
            o.XmlRepository = sp.GetRequiredService<PostgresXmlRepository>();
            o.XmlEncryptor = new KekXmlEncryptor(sp.GetRequiredService<Kek>());
        });

        // An explicit list: Carter would otherwise scan every assembly referencing FluentValidation.
        services.AddCarter(configurator: c => c.WithModules(
            typeof(HealthModule), typeof(InternalModule), typeof(CardSubmissionModule), typeof(CardEntryModule),
            typeof(CspReportModule), typeof(ApprovalsModule)));

        var app = builder.Build();
        if (args is not ["migrate"])
        {
            app.EnforceStartupPolicy(); // the one-shot migration step holds no key, URL or acquirer to check
        }

        if (args.Length > 0 && !args[0].StartsWith('-'))
        {
            return await VaultCommands.RunAsync(app.Services, args, Console.Out, CancellationToken.None);
        }

        app.UseVaultResponseHeaders(); // first, so its headers are on every answer, the exception handler's too
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting();
        app.UseListenerGate();
        // Writes past capacity are shed before any work (ADR 40); the Host answers them as the Vault being unavailable.
        app.UseAdmissionControl();
        app.UseVaultSecurity();
        app.MapCarter();
        app.MapGatewayMetrics(endpoint => endpoint.AllowUnsignedCallers());
        app.MapCardEntryOpenApi();
        await app.RunAsync();
        return 0;
    }
}
