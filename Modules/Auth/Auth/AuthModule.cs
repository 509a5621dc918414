using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.BuildingBlocks.Hosting;

namespace Payments.Auth;

public static class AuthModule
{
    public static ModuleDefinition Definition { get; } =
        new("Auth", "auth", typeof(AuthModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
    }
}
