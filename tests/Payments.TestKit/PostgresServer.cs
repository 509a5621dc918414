using Npgsql;

namespace Payments.TestKit;

/// <summary>
/// A real PostgreSQL server for tests: the one named by <c>PAYMENTS_TEST_PG</c> (a superuser connection string,
/// as test.sh sets), or a throwaway cluster started from the installed binaries and removed at exit.
/// Each fixture gets fresh databases, so tests never see each other's rows.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static PostgresServer? shared;

    private readonly string? dataDir;
    private readonly string pgCtl = "";

    private PostgresServer(string adminConnectionString, string? dataDir, string pgCtl)
    {
        AdminConnectionString = adminConnectionString;
        this.dataDir = dataDir;
        this.pgCtl = pgCtl;
    }

    /// <summary>A superuser connection string to the <c>postgres</c> database.</summary>
    public string AdminConnectionString { get; }

    public int Port => new NpgsqlConnectionStringBuilder(AdminConnectionString).Port;

    /// <summary>The server shared by every fixture of this test process.</summary>
    public static async Task<PostgresServer> SharedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (shared is null)
            {
                var given = Environment.GetEnvironmentVariable("PAYMENTS_TEST_PG");
                shared = string.IsNullOrEmpty(given) ? await StartAsync() : new PostgresServer(given, null, "");
                if (shared.dataDir is not null)
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

    /// <summary>Starts a private cluster (a server of its own, for tests that stop or restart it).</summary>
    public static async Task<PostgresServer> StartAsync()
    {
        var bin = Path.GetDirectoryName(ProcessRunner.FindBinary("pg_ctl", "/usr/lib/postgresql/15/bin/pg_ctl"))!;
        var initdb = Path.Combine(bin, "initdb");
        var pgCtl = Path.Combine(bin, "pg_ctl");
        if (!File.Exists(initdb))
        {
            initdb = ProcessRunner.FindBinary("initdb", "/usr/lib/postgresql/15/bin/initdb");
        }
        var dir = Path.Combine(Path.GetTempPath(), "payments-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        if (ProcessRunner.IsRoot)
        {
            await ProcessRunner.RunAsync("chown", ["postgres:postgres", dir]);
        }
        var port = LoopbackPorts.Free();
        await ProcessRunner.RunAsync(initdb, ["-D", Path.Combine(dir, "data"), "-A", "trust", "-U", "app", "--no-sync"], asPostgres: true);
        var server = new PostgresServer(
            $"Host=127.0.0.1;Port={port};Username=app;Database=postgres;Pooling=true;Maximum Pool Size=20",
            dir, pgCtl);
        await server.StartProcessAsync();
        return server;
    }

    public async Task StartProcessAsync()
    {
        if (dataDir is null)
        {
            throw new InvalidOperationException("This server was given, not started, by the test kit.");
        }
        var opts = $"-p {Port} -k {dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " +
                   "-c full_page_writes=off -c max_connections=400 -c shared_buffers=128MB";
        await ProcessRunner.RunAsync(pgCtl, ["-D", Path.Combine(dataDir, "data"), "-o", opts, "-l", Path.Combine(dataDir, "log"), "-w", "start"], asPostgres: true);
    }

    public async Task StopProcessAsync()
    {
        if (dataDir is null)
        {
            throw new InvalidOperationException("This server was given, not started, by the test kit.");
        }
        await ProcessRunner.RunAsync(pgCtl, ["-D", Path.Combine(dataDir, "data"), "-m", "fast", "-w", "stop"], asPostgres: true);
    }

    /// <summary>Creates an empty database (owned by <paramref name="owner"/> when given) and returns a connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix, string? owner = null)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 63)];
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            owner is null ? $"CREATE DATABASE \"{name}\"" : $"CREATE DATABASE \"{name}\" OWNER \"{owner}\"", conn);
        await cmd.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        if (dataDir is null)
        {
            return;
        }
        try
        {
            await StopProcessAsync();
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
