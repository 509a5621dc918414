using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Payments.ArchitectureTests;

/// <summary>
/// What the Host's built container holds, not only what its code references: a registration pulled in by a framework
/// call (AddAuthentication() registers Data Protection) shows only here. Built with the Host's own Program, with
/// no hosted service started, so no database or Redis is needed.
/// </summary>
public sealed class HostServiceContainerTests
{
    [Fact]
    public async Task The_hosts_container_resolves_no_data_protection()
    {
        await using var factory = new WebApplicationFactory<Payments.Host.Program>().WithWebHostBuilder(b =>
        {
            b.UseEnvironment("Testing");
            b.UseSetting("ConnectionStrings:Payments", "Host=127.0.0.1;Port=1;Username=none;Database=none");
            b.UseSetting("ConnectionStrings:Redis", "127.0.0.1:1,abortConnect=false");
            b.UseSetting("Vault:BaseUrl", "http://127.0.0.1:1/");
            b.UseSetting("Vault:ServiceKey", Convert.ToBase64String(new byte[32]));
            b.ConfigureTestServices(s => s.RemoveAll<IHostedService>());
        });

        var services = factory.Services;

        Assert.Null(services.GetService<IDataProtectionProvider>());
        Assert.Null(services.GetService<Microsoft.AspNetCore.DataProtection.KeyManagement.IKeyManager>());
    }
}
