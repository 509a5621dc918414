using Npgsql;

namespace Payments.Vault.Audit;

internal static class AuditServices
{
    /// <summary>The keyed chain's key, anchors, scheduled verification and retention (docs/adr/0121-0124).</summary>
    public static IServiceCollection AddAuditChain(this IServiceCollection services, IConfiguration config)
    {
        services.AddOptions<AuditOptions>().Bind(config.GetSection("Vault:Audit"))
            .Validate(o => o.Retention >= AuditOptions.MinimumRetention,
                "Vault:Audit:Retention must be at least 365 days (PCI DSS 10.5.1 keeps audit rows 12 months).")
            .Validate(o => o.AnchorInterval > TimeSpan.Zero && o.AnchorEveryRows > 0 && o.VerifyInterval > TimeSpan.Zero,
                "Vault:Audit:AnchorInterval, AnchorEveryRows and VerifyInterval must be positive.")
            .PostConfigure(o => o.AnchorFile = string.IsNullOrEmpty(o.AnchorFile)
                ? AuditOptions.DefaultAnchorFile(o.AnchorDirectory, new NpgsqlConnectionStringBuilder(config.GetConnectionString("Vault")).Database)
                : o.AnchorFile)
            .ValidateOnStart();
        services.AddSingleton<AuditAnchors>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditAnchors>());
        services.AddSingleton<AuditVerificationService>();
        services.AddHostedService(sp => sp.GetRequiredService<AuditVerificationService>());
        services.AddSingleton<AuditRetention>();
        return services;
    }
}
