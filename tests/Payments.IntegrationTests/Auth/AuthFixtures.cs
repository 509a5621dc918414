using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;

namespace Payments.IntegrationTests.Auth;

/// <summary>The gateway with a clock the tests move, and cheap secret hashes so rate-limit tests stay fast.</summary>
public class AuthFixture : GatewayFixture
{
    public ManualClock Clock { get; } = new();

    protected override void ConfigureHost(Dictionary<string, string?> settings) =>
        settings["Auth:SecretHashIterations"] = "1000";

    protected override void ConfigureHostServices(IServiceCollection services) =>
        services.AddSingleton<TimeProvider>(Clock);
}

/// <summary>Its own Redis, so per-IP failure counters and stopping Redis touch no other test class.</summary>
public sealed class PrivateRedisAuthFixture : AuthFixture
{
    private RedisServer? redis;

    protected override async Task<RedisServer> UseRedisAsync() => redis = await RedisServer.StartAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (redis is not null)
        {
            await redis.DisposeAsync();
        }
    }
}
