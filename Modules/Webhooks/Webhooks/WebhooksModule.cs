using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Observability;
using Payments.Webhooks.Data;
using Payments.Webhooks.Delivery;
using Payments.Webhooks.Recording;
using Payments.Webhooks.Secrets;

namespace Payments.Webhooks;

public static class WebhooksModule
{
    public static ModuleDefinition Definition { get; } =
        new("Webhooks", "webhooks", typeof(WebhooksModule).Assembly, AddServices);

    private static void AddServices(IServiceCollection services, IConfiguration config)
    {
        services.Configure<WebhooksOptions>(config.GetSection(WebhooksOptions.Section));
        services.AddSingleton<SecretSealer>();
        services.AddSingleton<WebhookStore>();
        services.TryAddSingleton<IWebhookHostResolver, DnsHostResolver>();
        services.AddSingleton<WebhookSender>();
        WebhookSender.Configure(services);
        services.AddSingleton<DeliveryDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<DeliveryDispatcher>());
        services.AddHostedService<TokenizationFeed>();
        services.AddSingleton<ITelemetrySampler, WebhookGauges>();
    }
}
