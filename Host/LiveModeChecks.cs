using Payments.BuildingBlocks.Hosting;

namespace Payments.Host;

/// <summary>
/// Live mode (Gateway:Mode=Live) means it: the Host refuses to start with a known, one-byte-repeated, short or shared
/// key, a published default database password, or plain HTTP off loopback for its public listener or the Vault.
/// See docs/adr/0116-live-mode-start-up-checks.md.
/// </summary>
internal static class LiveModeChecks
{
    public static void Enforce(IConfiguration config)
    {
        if (!LiveModeGuard.IsLive(config))
        {
            return;
        }
        var problems = LiveModeGuard.CheckKeys([
            ("Vault:ServiceKey", config["Vault:ServiceKey"]),
            ("Auth:KeyEncryptionKey", config["Auth:KeyEncryptionKey"]),
            ("Webhooks:SecretKey", config["Webhooks:SecretKey"]),
            ("Idempotency:SecretKey", config["Idempotency:SecretKey"]),
        ]);
        problems.AddRange(new[]
        {
            LiveModeGuard.CheckPassword("ConnectionStrings:Payments", config.GetConnectionString("Payments")),
            LiveModeGuard.CheckUrl("Vault:BaseUrl", config["Vault:BaseUrl"]),
            LiveModeGuard.CheckUrl("Listeners:Public", config["Listeners:Public"]),
        }.OfType<string>());
        LiveModeGuard.ThrowIfAny("The Host", problems);
    }
}
