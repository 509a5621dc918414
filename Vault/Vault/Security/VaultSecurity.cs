using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Ids;
using Payments.BuildingBlocks.Logging;
using Payments.Vault.Acquirer;
using Payments.Vault.Features.CardEntry;

namespace Payments.Vault.Security;

/// <summary>The Vault's runtime boundary in two calls: what it registers, and where it sits in the pipeline.</summary>
internal static class VaultSecurity
{
    public static IServiceCollection AddVaultSecurity(this IServiceCollection services)
    {
        services.AddHttpContextAccessor(); // audit rows name the source address and the Host's request id
        services.AddSingleton<ServiceAuthentication>();
        services.AddSingleton<MerchantRateLimits>();
        services.AddSingleton<FailedCardEntryLimits>();
        services.AddSingleton<CardEntryIntegrity>();
        services.AddHostedService<CardEntryIntegrityCheck>();
        return services;
    }

    /// <summary>
    /// Live-mode refusals first (the process stops before it serves anything), then the start-up line naming the
    /// acquirer. Call right after <c>Build()</c>, before the first request or verb.
    /// </summary>
    public static void EnforceStartupPolicy(this WebApplication app)
    {
        LiveModeChecks.Enforce(app.Configuration);
        var acquirer = AcquirerChoice.Resolve(app.Configuration);
        app.Logger.LogInformation("Vault starting in {Mode} mode with the {Acquirer} acquirer",
            LiveModeGuard.IsLive(app.Configuration) ? "live" : "sandbox", acquirer);
    }

    /// <summary>After routing and the listener gate: the Vault's own request id, HSTS, then service authentication.</summary>
    public static IApplicationBuilder UseVaultSecurity(this IApplicationBuilder app)
    {
        app.Use(async (context, next) =>
        {
            // The Vault's own id, apart from the Host's (request_id): vault_request_id in logs and audit rows.
            context.TraceIdentifier = PrefixedId.New("vrq");
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Payments.Vault.Requests");
            using (logger.BeginScope(new KeyValuePair<string, object>[] { new(LogScopes.VaultRequestId, context.TraceIdentifier) }))
            {
                await next(context);
            }
        });
        app.UseHstsOffLoopback();
        app.UseMiddleware<ServiceAuthenticationMiddleware>();
        return app;
    }
}

/// <summary>
/// Live mode (Gateway:Mode=Live) means it: the Vault refuses to start with a known, one-byte-repeated, short or
/// shared key (service keys and KEK components, compared decoded), a published default database password, plain
/// HTTP off loopback for its public URL or listeners, or an acquirer not named in configuration.
/// </summary>
internal static class LiveModeChecks
{
    public static void Enforce(IConfiguration config)
    {
        if (!LiveModeGuard.IsLive(config))
        {
            return;
        }
        var keys = new List<(string, string?)> { ("Vault:ServiceKey", config["Vault:ServiceKey"]) };
        if (config["Vault:PreviousServiceKey"] is { Length: > 0 } previous)
        {
            keys.Add(("Vault:PreviousServiceKey", previous));
        }
        var components = config.GetSection("Vault:Kek:Components").GetChildren().ToList();
        keys.AddRange(components.Select(c => ($"Vault:Kek:Components:{c.Key}", c.Value)));
        // Components in custodian files (docs/adr/0125) get the same checks; a missing file is reported by the KEK itself.
        keys.AddRange(config.GetSection("Vault:Kek:ComponentFiles").GetChildren()
            .Where(f => File.Exists(f.Value))
            .Select(f => ($"Vault:Kek:ComponentFiles:{f.Key}", (string?)File.ReadAllText(f.Value!).Trim())));
        var problems = LiveModeGuard.CheckKeys(keys);
        problems.AddRange(new[]
        {
            LiveModeGuard.CheckPassword("ConnectionStrings:Vault", config.GetConnectionString("Vault")),
            LiveModeGuard.CheckPassword("ConnectionStrings:VaultMigrations", config.GetConnectionString("VaultMigrations")),
            LiveModeGuard.CheckUrl("Vault:PublicUrl", config["Vault:PublicUrl"]),
            LiveModeGuard.CheckUrl("Listeners:Public", config["Listeners:Public"]),
            LiveModeGuard.CheckUrl("Listeners:Internal", config["Listeners:Internal"]),
            string.IsNullOrWhiteSpace(config["Vault:Acquirer"])
                ? "Vault:Acquirer is not set: live mode names its acquirer explicitly (only Sandbox exists; set Vault:Acquirer=Sandbox to run it knowingly)."
                : null,
        }.OfType<string>());
        LiveModeGuard.ThrowIfAny("The Vault", problems);
    }
}
