using System.Diagnostics;
using StackExchange.Redis;

namespace Payments.TestKit;

/// <summary>
/// A real Redis server for tests: the one named by <c>PAYMENTS_TEST_REDIS</c> (host:port), or a throwaway
/// <c>redis-server</c> on a free port. Tests that stop Redis start one of their own.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static RedisServer? shared;

    private readonly string? dir;
    private Process? process;

    private RedisServer(string endpoint, string? dir)
    {
        Endpoint = endpoint;
        this.dir = dir;
    }

    /// <summary><c>127.0.0.1:PORT</c>.</summary>
    public string Endpoint { get; }

    public int Port => int.Parse(Endpoint[(Endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A StackExchange.Redis connection string. A private server, which its tests stop, is not waited for long; the
    /// shared one, never stopped but busy with every parallel class's Hosts on a loaded machine, is given 5 s, as
    /// <see cref="SuiteLimits"/> gives the rate limiter: a stalled answer must not send a Host limiting locally at its
    /// share of the rate, counted over every Host of the test process.
    /// </summary>
    public string ConnectionString => IsShared
        ? $"{Endpoint},abortConnect=false,connectTimeout=5000,syncTimeout=5000,asyncTimeout=5000"
        : $"{Endpoint},abortConnect=false,connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000";

    private bool IsShared => ReferenceEquals(this, shared);

    public static async Task<RedisServer> SharedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (shared is null)
            {
                var given = Environment.GetEnvironmentVariable("PAYMENTS_TEST_REDIS");
                shared = string.IsNullOrEmpty(given) ? await StartAsync() : new RedisServer(given, null);
                if (shared.dir is not null)
                {
                    AppDomain.CurrentDomain.ProcessExit += (_, _) => shared.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }
            return shared;
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task<RedisServer> StartAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "payments-redis-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var server = new RedisServer($"127.0.0.1:{LoopbackPorts.Free()}", dir);
        await server.StartProcessAsync();
        return server;
    }

    public async Task StartProcessAsync()
    {
        if (dir is null)
        {
            throw new InvalidOperationException("This server was given, not started, by the test kit.");
        }
        var bin = ProcessRunner.FindBinary("redis-server", "/usr/bin/redis-server");
        var psi = new ProcessStartInfo(bin)
        {
            ArgumentList = { "--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no", "--dir", dir },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        process = Process.Start(psi) ?? throw new InvalidOperationException("Cannot start redis-server");
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                await using var mux = await ConnectionMultiplexer.ConnectAsync($"{Endpoint},connectTimeout=200");
                await mux.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException)
            {
                await Task.Delay(50);
            }
        }
        throw new InvalidOperationException("redis-server did not start.");
    }

    public async Task StopProcessAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process?.Dispose();
        process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopProcessAsync();
        if (dir is not null)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
