using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Payments.BuildingBlocks.Data;

namespace Payments.BuildingBlocks.Idempotency;

public static class IdempotencyServices
{
    /// <summary>The <c>idempotency</c> schema's migrations, applied before the modules' (docs/adr/0030).</summary>
    public static ModuleMigrations Migrations { get; } = new("idempotency", typeof(IdempotencyStore).Assembly);

    public static IServiceCollection AddIdempotency(this IServiceCollection services, IConfiguration config)
    {
        services.AddOptions<IdempotencyOptions>()
            .Configure(o =>
            {
                // The contract: kept for the authorization window plus one day.
                if (TimeSpan.TryParse(config["Transactions:AuthorizationWindow"], System.Globalization.CultureInfo.InvariantCulture, out var window))
                {
                    o.Retention = window + TimeSpan.FromDays(1);
                }
            })
            .Bind(config.GetSection(IdempotencyOptions.Section));
        services.TryAddSingleton<IdempotencyStore>();
        services.TryAddSingleton<AnswerSeal>();
        return services;
    }
}
