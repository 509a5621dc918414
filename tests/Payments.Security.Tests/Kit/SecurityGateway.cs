using System.Diagnostics;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Payments.TestKit;

namespace Payments.Security.Tests.Kit;

/// <summary>
/// The one gateway every security suite of this test run shares: the Host and the Vault on real loopback ports
/// (so Kestrel's body limit applies, as in production), real PostgreSQL and Redis, logs at Debug captured for the
/// leak scan, and a Host clock the access suite can move to mint an expired token.
/// </summary>
internal sealed class SecurityGateway : GatewayFixture
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static SecurityGateway? shared;

    public ShiftableClock Clock { get; } = new();

    protected override bool UseKestrel => true;

    /// <summary>The gateway of this test run, started on first use and stopped when the process exits.</summary>
    public static async Task<SecurityGateway> SharedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (shared is null)
            {
                CapturedOutput.Install();
                var gateway = new SecurityGateway();
                await gateway.InitializeAsync();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => gateway.DisposeAsync().GetAwaiter().GetResult();
                shared = gateway;
            }
            return shared;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Every span of both processes (the listeners are process-wide), as an OTLP exporter would send them.</summary>
    public ExportedSpanCollection ExportedSpans { get; } = new();

    protected override void ConfigureHost(Dictionary<string, string?> settings) => VerboseLogs(settings);

    protected override void ConfigureVault(Dictionary<string, string?> settings) => VerboseLogs(settings);

    protected override void ConfigureHostServices(IServiceCollection services)
    {
        services.AddSingleton<TimeProvider>(Clock);
        services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(ExportedSpans));
    }

    // Everything down to Debug is scanned for card data: a leak at a level production hides is still a leak.
    private static void VerboseLogs(Dictionary<string, string?> settings)
    {
        settings["Telemetry:RecordTraces"] = "true"; // the leak scan reads the spans too
        settings["Logging:LogLevel:Default"] = "Debug";
        settings["Logging:LogLevel:Microsoft.AspNetCore"] = "Debug";
        settings["Logging:LogLevel:System.Net.Http"] = "Debug";
        settings["Logging:LogLevel:Microsoft.Extensions.Http"] = "Debug";
        settings["Logging:LogLevel:Npgsql"] = "Debug";
        settings["Logging:LogLevel:Wolverine"] = "Information";
        settings["Logging:LogLevel:JasperFx"] = "Information";
    }

    /// <summary>A client of the merchant API over a real socket; every answer is recorded for the leak scan.</summary>
    public HttpClient HostClient(string? accessToken = null) => Client(Host.BaseAddress, accessToken);

    /// <summary>A client of the Vault over a real socket, with no service credential.</summary>
    public HttpClient VaultClient() => Client(Vault.BaseAddress, null);

    private static HttpClient Client(Uri baseAddress, string? accessToken)
    {
        var http = new HttpClient(new RecordingHandler(new SocketsHttpHandler { AllowAutoRedirect = false }))
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (accessToken is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return http;
    }
}

/// <summary>The system clock moved by an offset; the Host stamps (and may check) tokens with it.</summary>
internal sealed class ShiftableClock : TimeProvider
{
    private long offsetTicks;

    public TimeSpan Offset
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref offsetTicks));
        set => Interlocked.Exchange(ref offsetTicks, value.Ticks);
    }

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
}
