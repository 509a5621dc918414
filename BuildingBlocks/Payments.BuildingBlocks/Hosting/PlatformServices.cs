using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Payments.BuildingBlocks.Data;
using StackExchange.Redis;

namespace Payments.BuildingBlocks.Hosting;

public static class PlatformServices
{
    /// <summary>
    /// The shared infrastructure of the Host's modules: one PostgreSQL data source (each module keeps to its
    /// own schema), one Redis connection, the clock and the gateway mode.
    /// </summary>
    public static IServiceCollection AddPaymentsPlatform(this IServiceCollection services, IConfiguration config)
    {
        var pg = config.GetConnectionString("Payments")
                 ?? throw new InvalidOperationException("ConnectionStrings:Payments is not set.");
        services.TryAddSingleton(_ => PostgresDataSource.Create(pg));

        var redis = config.GetConnectionString("Redis")
                    ?? throw new InvalidOperationException("ConnectionStrings:Redis is not set.");
        services.TryAddSingleton<IConnectionMultiplexer>(_ =>
        {
            var options = ConfigurationOptions.Parse(redis);
            // Start and keep serving while Redis is down: it is a cache, PostgreSQL is the record.
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
            options.SyncTimeout = Math.Min(options.SyncTimeout, 1000);
            options.AsyncTimeout = Math.Min(options.AsyncTimeout, 1000);
            return ConnectionMultiplexer.Connect(options);
        });

        services.TryAddSingleton(TimeProvider.System);
        services.Configure<GatewayOptions>(config.GetSection(GatewayOptions.Section));
        return services;
    }
}
