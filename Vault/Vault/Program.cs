using Carter;
using Npgsql;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Logging;
using Payments.Vault.Features.Health;

namespace Payments.Vault;

public sealed partial class Program
{
    public static async Task Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Logging.AddRedactedConsole();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 16 * 1024;
            k.AddServerHeader = false;
        });

        var services = builder.Services;
        var connectionString = builder.Configuration.GetConnectionString("Vault")
                               ?? throw new InvalidOperationException("ConnectionStrings:Vault is not set.");
        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        services.AddSingleton(TimeProvider.System);
        services.AddHostedService<VaultMigrations>();
        services.AddProblemDetails();

        // An explicit list: Carter would otherwise scan every assembly referencing FluentValidation.
        services.AddCarter(configurator: c => c.WithModules(typeof(HealthModule)));

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapCarter();
        await app.RunAsync();
    }
}

/// <summary>Applies the Vault's own migrations into its own database before it serves.</summary>
internal sealed class VaultMigrations(NpgsqlDataSource db, ILogger<VaultMigrations> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        SqlMigrationRunner.ApplyAsync(db, [new ModuleMigrations("vault", typeof(VaultMigrations).Assembly)], logger, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
