using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Idempotency;

namespace Payments.Host.Pipeline;

/// <summary>Applies every module's migrations before the Host serves (hosted services start in order).</summary>
internal sealed class MigrationService(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => ApplyAllAsync(services, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static Task ApplyAllAsync(IServiceProvider services, CancellationToken ct) =>
        SqlMigrationRunner.ApplyAsync(
            services.GetRequiredService<NpgsqlDataSource>(),
            Modules.All.Select(m => m.Migrations).Prepend(IdempotencyServices.Migrations),
            services.GetRequiredService<ILoggerFactory>().CreateLogger("Payments.Migrations"),
            ct);
}
