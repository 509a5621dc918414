using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Payments.Auth.Authentication;
using Payments.Auth.Commands;
using Payments.Auth.Contracts;
using Payments.Auth.Data;
using Payments.Auth.Features.Limits;
using Payments.Auth.RateLimiting;
using Payments.Auth.Tokens;
using Payments.BuildingBlocks.Commands;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.RateLimiting;

namespace Payments.Auth;

public static class AuthModule
{
    public static ModuleDefinition Definition { get; } =
        new("Auth", "auth", typeof(AuthModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.AddOptions<AuthOptions>().Bind(config.GetSection(AuthOptions.Section));
        services.AddSingleton<SecretHasher>();
        services.AddSingleton<KeyEncryption>();
        services.AddSingleton<SigningKeyStore>();
        services.AddSingleton<VerifiedTokenCache>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<RevokedSet>();
        services.AddSingleton<RevocationStore>();
        services.AddHostedService<RevocationFeed>();
        services.AddSingleton<FailureLimiter>();
        services.AddSingleton<MerchantStore>();
        services.AddHostedService<RevocationSync>();
        services.AddSingleton<MerchantLimits>();
        services.AddSingleton<IMerchantLimits>(sp => sp.GetRequiredService<MerchantLimits>());
        services.AddHostedService(sp => sp.GetRequiredService<MerchantLimits>());

        services.AddHttpContextAccessor();
        services.AddScoped<ICurrentMerchant, CurrentMerchant>();

        // The default scheme of every endpoint (FastEndpoints requires an authenticated user unless AllowAnonymous).
        // Not AddAuthentication(): it registers Data Protection, which writes an unencrypted key ring under
        // ~/.aspnet at start-up; bearer tokens need none of it (ADR 112). The handler needs a UrlEncoder only.
        services.AddAuthenticationCore(o => o.DefaultScheme = BearerAuthenticationHandler.SchemeName);
        services.AddWebEncoders();
        new AuthenticationBuilder(services)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(BearerAuthenticationHandler.SchemeName, null);

        services.AddSingleton<IHostCommand, MerchantCommand>();
        services.AddSingleton<IHostCommand, KeysCommand>();
    }
}
