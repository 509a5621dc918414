using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Payments.BuildingBlocks.Observability;

namespace Payments.BuildingBlocks.RateLimiting;

public static class RateLimitingServices
{
    /// <summary>The per-merchant limiter and admission control; a module registers <see cref="IMerchantLimits"/>.</summary>
    public static IServiceCollection AddGatewayRateLimiting(this IServiceCollection services, IConfiguration config)
    {
        services.Configure<RateLimitOptions>(config.GetSection(RateLimitOptions.Section));
        services.TryAddSingleton<LiveHosts>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveHosts>());
        services.TryAddSingleton<DistributedTokenBucket>();
        return services.AddAdmissionControl(config);
    }

    /// <summary>Admission control alone (the Vault: no merchants of its own to limit, no Redis).</summary>
    public static IServiceCollection AddAdmissionControl(this IServiceCollection services, IConfiguration config)
    {
        services.Configure<AdmissionOptions>(config.GetSection(AdmissionOptions.Section));
        services.TryAddSingleton<AdmissionGate>();
        services.TryAddSingleton(new AdmissionRefusals(static () => GatewayInstruments.RateLimitRefusals.Add(1,
            new KeyValuePair<string, object?>("limit", AdmissionRefusals.LimitName))));
        return services;
    }

    /// <summary>Admission control: after routing (it reads the endpoint), before authentication.</summary>
    public static IApplicationBuilder UseAdmissionControl(this IApplicationBuilder app) =>
        app.UseMiddleware<AdmissionControlMiddleware>();

    /// <summary>Per-merchant limits: after authentication, before idempotency.</summary>
    public static IApplicationBuilder UseMerchantRateLimits(this IApplicationBuilder app) =>
        app.UseMiddleware<MerchantRateLimitMiddleware>();
}
