using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Npgsql;
using StackExchange.Redis;

namespace Payments.TestKit;

/// <summary>Settings for <see cref="GatewayProcesses"/>.</summary>
public sealed class GatewayProcessOptions
{
    /// <summary>How many Host processes to start (each on its own port, all on the same databases).</summary>
    public int HostCount { get; init; } = 1;

    /// <summary>
    /// True (the default) keeps <c>fsync</c> and <c>synchronous_commit</c> on, as load figures need; false runs
    /// PostgreSQL like the functional tests do.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <summary><c>Release</c> or <c>Debug</c>: which build of the Host and the Vault to run (from artifacts/bin).</summary>
    public string Configuration { get; init; } =
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    /// <summary><c>Sandbox</c> or <c>Live</c>.</summary>
    public string GatewayMode { get; init; } = "Sandbox";

    /// <summary>Extra environment variables for every Host process (configuration keys with <c>__</c>).</summary>
    public IDictionary<string, string> HostEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Extra environment variables for the Vault process.</summary>
    public IDictionary<string, string> VaultEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Extra PostgreSQL server options (<c>-c name=value</c> pairs as one string).</summary>
    public string PostgresOptions { get; init; } = "";

    /// <summary>How long a process may take to answer <c>/health/ready</c>.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(90);
}

/// <summary>
/// The whole gateway as real processes, like <c>run.sh</c> starts it: a private PostgreSQL cluster, a private Redis,
/// the built Vault and N built Hosts (<c>dotnet Payments.*.dll</c> from artifacts/bin) on free loopback ports,
/// with the same roles, databases and environment variables <c>run.sh</c> sets (keep the two in step). For load runs and fault tests: each process can be
/// killed (SIGKILL), stopped (SIGTERM) and started again; URLs, PIDs and connection strings are exposed.
/// Build the solution first (<c>dotnet build -c Release</c>).
/// </summary>
public sealed class GatewayProcesses : IAsyncDisposable
{
    private readonly GatewayProcessOptions options;
    private readonly string dir;
    private readonly string pgBin;
    private readonly string payPassword = Secret(18);
    private readonly string vaultPassword = Secret(18);
    private readonly string vaultOwnerPassword = Secret(18);
    private readonly string authKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly string serviceKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly int vaultInternalPort = LoopbackPorts.Free();
    private readonly int vaultManagementPort = LoopbackPorts.Free();
    private readonly string[] kek = [Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))];
    private readonly List<GatewayProcess> hosts = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, int> managementPorts = new();
    private RedisServer? redis;
    private bool postgresRunning;

    private GatewayProcesses(GatewayProcessOptions options)
    {
        this.options = options;
        dir = Path.Combine(Path.GetTempPath(), "payments-gw-" + Guid.NewGuid().ToString("N")[..12]);
        pgBin = Path.GetDirectoryName(ProcessRunner.FindBinary("pg_ctl", "/usr/lib/postgresql/15/bin/pg_ctl"))!;
        PostgresPort = LoopbackPorts.Free();
    }

    /// <summary>The folder holding the cluster, Redis' files and every process' log (<c>*.log</c>).</summary>
    public string WorkDirectory => dir;

    public int PostgresPort { get; }

    /// <summary>Superuser (<c>app</c>, trust) connection string to the <c>postgres</c> database.</summary>
    public string AdminConnectionString => $"Host=127.0.0.1;Port={PostgresPort};Username=app;Database=postgres;Pooling=false";

    /// <summary>The Host's database as the Host's role sees it (schema per module).</summary>
    public string HostConnectionString => $"Host=127.0.0.1;Port={PostgresPort};Username=payments;Password={payPassword};Database=payments;Maximum Pool Size=64";

    public string VaultConnectionString => $"Host=127.0.0.1;Port={PostgresPort};Username=vault;Password={vaultPassword};Database=vault;Maximum Pool Size=64";

    public string RedisConnectionString => Redis.ConnectionString;

    public RedisServer Redis => redis ?? throw new InvalidOperationException("Not started.");

    public GatewayProcess Vault { get; private set; } = null!;

    public IReadOnlyList<GatewayProcess> Hosts => hosts;

    /// <summary>The first Host's base URL (<c>http://127.0.0.1:PORT/</c>).</summary>
    public Uri HostUrl => hosts[0].BaseUrl;

    public Uri VaultUrl => Vault.BaseUrl;

    /// <summary>The Vault's internal listener (the service API the Host calls).</summary>
    public Uri VaultInternalUrl => new($"http://127.0.0.1:{vaultInternalPort}/");

    /// <summary>The Vault's management listener (health, inventory).</summary>
    public Uri VaultManagementUrl => new($"http://127.0.0.1:{vaultManagementPort}/");

    public string PostgresDataDirectory => Path.Combine(dir, "pg", "data");

    /// <summary>The postmaster's PID (its backends are its children), or null when it is not running.</summary>
    public int? PostgresPid
    {
        get
        {
            var file = Path.Combine(PostgresDataDirectory, "postmaster.pid");
            try
            {
                return File.Exists(file) ? int.Parse(File.ReadLines(file).First(), CultureInfo.InvariantCulture) : null;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>Redis' PID, from its own INFO.</summary>
    public async Task<int> RedisPidAsync()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString + ",allowAdmin=true");
        var info = await mux.GetServer(Redis.Endpoint).InfoAsync("server");
        var pid = info.SelectMany(g => g).First(p => p.Key == "process_id").Value;
        return int.Parse(pid, CultureInfo.InvariantCulture);
    }

    public static async Task<GatewayProcesses> StartAsync(GatewayProcessOptions? options = null)
    {
        var gw = new GatewayProcesses(options ?? new GatewayProcessOptions());
        try
        {
            await gw.StartAllAsync();
            return gw;
        }
        catch
        {
            await gw.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync()
    {
        foreach (var dll in new[] { HostDll, VaultDll })
        {
            if (!File.Exists(dll))
            {
                throw new InvalidOperationException($"{dll} is missing: run 'dotnet build Payments.Modular.sln -c {options.Configuration}' first.");
            }
        }
        Directory.CreateDirectory(Path.Combine(dir, "pg"));
        if (ProcessRunner.IsRoot)
        {
            await ProcessRunner.RunAsync("chmod", ["755", dir]);
            await ProcessRunner.RunAsync("chown", ["postgres:postgres", Path.Combine(dir, "pg")]);
        }
        await ProcessRunner.RunAsync(Path.Combine(pgBin, "initdb"), ["-D", PostgresDataDirectory, "-A", "trust", "-U", "app", "--no-sync"], asPostgres: true);
        await StartPostgresAsync();
        await CreateDatabasesAsync();
        redis = await RedisServer.StartAsync();

        await RunVaultMigrateAsync();
        Vault = new GatewayProcess("vault", VaultDll, LoopbackPorts.Free(), Path.Combine(dir, "vault.log"), VaultEnv);
        await Vault.StartAsync(options.ReadyTimeout);
        for (var i = 0; i < options.HostCount; i++)
        {
            hosts.Add(new GatewayProcess($"host{i}", HostDll, LoopbackPorts.Free(), Path.Combine(dir, $"host{i}.log"), HostEnv));
        }
        // Hosts start one after the other: each applies migrations on start, and the first one creates the schemas.
        foreach (var h in hosts)
        {
            await h.StartAsync(options.ReadyTimeout);
        }
    }

    private string BinDir(string project) =>
        Path.Combine(RepositoryPaths.Root, "artifacts", "bin", project, options.Configuration.ToLowerInvariant());

    private string HostDll => Path.Combine(BinDir("Payments.Host"), "Payments.Host.dll");

    private string VaultDll => Path.Combine(BinDir("Payments.Vault"), "Payments.Vault.dll");

    /// <summary>The management listener (<c>/metrics</c>) of the Host on public <paramref name="port"/>, or of the Vault.</summary>
    public int ManagementPortOf(int port) =>
        Vault is not null && port == Vault.Port ? vaultManagementPort : managementPorts.GetOrAdd(port, _ => LoopbackPorts.Free());

    private Dictionary<string, string> HostEnv(int port)
    {
        var env = new Dictionary<string, string>
        {
            ["ConnectionStrings__Payments"] = HostConnectionString,
            ["ConnectionStrings__Redis"] = $"{Redis.Endpoint},abortConnect=false",
            ["Vault__BaseUrl"] = $"http://127.0.0.1:{vaultInternalPort}/",
            // Card-entry links point at the Vault's public listener, not the internal one the Host calls.
            ["Vault__PublicUrl"] = Vault.BaseUrl.ToString().TrimEnd('/'),
            ["Vault__ServiceKey"] = serviceKey,
            ["Gateway__Mode"] = options.GatewayMode,
            ["Auth__KeyEncryptionKey"] = authKey,
            ["Listeners__Public"] = $"http://127.0.0.1:{port}",
            ["Listeners__Management"] = $"http://127.0.0.1:{ManagementPortOf(port)}",
        };
        foreach (var (k, v) in SuiteLimits.HostSettings)
        {
            env[k.Replace(":", "__", StringComparison.Ordinal)] = v!;
        }
        foreach (var (k, v) in options.HostEnvironment)
        {
            env[k] = v;
        }
        return env;
    }

    private Dictionary<string, string> VaultEnv(int port)
    {
        var env = new Dictionary<string, string>
        {
            ["ConnectionStrings__Vault"] = VaultConnectionString,
            ["Vault__ServiceKey"] = serviceKey,
            ["Vault__PublicUrl"] = $"http://127.0.0.1:{port}",
            ["Gateway__Mode"] = options.GatewayMode,
            ["Listeners__Public"] = $"http://127.0.0.1:{port}",
            ["Listeners__Internal"] = $"http://127.0.0.1:{vaultInternalPort}",
            ["Listeners__Management"] = $"http://127.0.0.1:{vaultManagementPort}",
        };
        for (var i = 0; i < kek.Length; i++)
        {
            env[$"Vault__Kek__Components__{i}"] = kek[i];
        }
        foreach (var (k, v) in SuiteVaultLimits.VaultSettings)
        {
            env[k.Replace(":", "__", StringComparison.Ordinal)] = v!;
        }
        foreach (var (k, v) in options.VaultEnvironment)
        {
            env[k] = v;
        }
        return env;
    }

    /// <summary>
    /// The Vault's one-shot migration step, as <c>./run.sh vault migrate</c> runs it: the owner credential and the
    /// serving role's name only (no serving password, no KEK); the serving Vault never gets the owner credential.
    /// </summary>
    private async Task RunVaultMigrateAsync()
    {
        var psi = GatewayProcess.StartInfo(VaultDll, new Dictionary<string, string>
        {
            ["ConnectionStrings__Vault"] = $"Host=127.0.0.1;Port={PostgresPort};Username=vault;Database=vault",
            ["ConnectionStrings__VaultMigrations"] =
                $"Host=127.0.0.1;Port={PostgresPort};Username=vault_owner;Password={vaultOwnerPassword};Database=vault;Pooling=false",
            ["Gateway__Mode"] = options.GatewayMode,
        });
        psi.ArgumentList.Add("migrate");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("Cannot start the Vault.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        await stdout;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"vault migrate exited {p.ExitCode}: {Tail(await stderr, 2000)}");
        }
    }

    /// <summary>
    /// Runs an operator verb of the Host (<c>merchant create --name X</c>) like <c>./run.sh merchant …</c> does and
    /// returns its standard output.
    /// </summary>
    public async Task<string> RunHostCommandAsync(params string[] args)
    {
        var env = HostEnv(LoopbackPorts.Free());
        env.Remove("Listeners__Public");
        env.Remove("Listeners__Management");
        var psi = GatewayProcess.StartInfo(HostDll, env);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("Cannot start the Host.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"Host {string.Join(' ', args)} exited {p.ExitCode}: {Tail(await stderr, 2000)}");
        }
        return await stdout;
    }

    /// <summary>Starts PostgreSQL (again) on the same port and data.</summary>
    public async Task StartPostgresAsync()
    {
        var durability = options.Durable
            ? "-c fsync=on -c synchronous_commit=on"
            : "-c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        var opts = $"-p {PostgresPort} -k {Path.Combine(dir, "pg")} -c listen_addresses=127.0.0.1 {durability} " +
                   $"-c max_connections=300 -c max_wal_size=4GB -c shared_buffers=256MB {options.PostgresOptions}";
        await ProcessRunner.RunAsync(Path.Combine(pgBin, "pg_ctl"),
            ["-D", PostgresDataDirectory, "-o", opts, "-l", Path.Combine(dir, "pg", "log"), "-w", "-t", "60", "start"], asPostgres: true);
        postgresRunning = true;
    }

    /// <summary>Stops PostgreSQL cleanly (<c>pg_ctl -m fast stop</c>).</summary>
    public async Task StopPostgresAsync()
    {
        await ProcessRunner.RunAsync(Path.Combine(pgBin, "pg_ctl"), ["-D", PostgresDataDirectory, "-m", "fast", "-w", "stop"], asPostgres: true);
        postgresRunning = false;
    }

    /// <summary>Kills the postmaster with SIGKILL and waits until its backends are gone (a crash; start it again after).</summary>
    public async Task KillPostgresAsync()
    {
        if (PostgresPid is not int pid)
        {
            return;
        }
        var children = ProcStat.ChildrenOf(pid);
        await ProcessRunner.RunAsync("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (children.Append(pid).Any(ProcStat.IsAlive))
        {
            await Task.Delay(50, cts.Token);
        }
        File.Delete(Path.Combine(PostgresDataDirectory, "postmaster.pid"));
        postgresRunning = false;
    }

    private async Task CreateDatabasesAsync()
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        foreach (var sql in new[]
                 {
                     $"CREATE ROLE payments LOGIN PASSWORD '{payPassword}'",
                     "CREATE DATABASE payments OWNER payments",
                     $"CREATE ROLE vault_owner LOGIN PASSWORD '{vaultOwnerPassword}'",
                     $"CREATE ROLE vault LOGIN PASSWORD '{vaultPassword}'",
                     "CREATE DATABASE vault OWNER vault_owner",
                     "CREATE ROLE vault_keyadmin NOLOGIN", // owns the key administration functions (as run.sh makes it)
                     "GRANT vault_keyadmin TO vault_owner",
                     "REVOKE ALL ON DATABASE vault FROM PUBLIC",
                     "GRANT CONNECT ON DATABASE vault TO vault",
                     "REVOKE ALL ON DATABASE payments FROM PUBLIC",
                 })
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private static string Secret(int bytes) =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes)).Replace('/', 'a').Replace('+', 'b').TrimEnd('=');

    internal static string Tail(string s, int n) => s.Length <= n ? s : s[^n..];

    public async ValueTask DisposeAsync()
    {
        foreach (var h in hosts)
        {
            await h.StopAsync();
        }
        if (Vault is not null)
        {
            await Vault.StopAsync();
        }
        if (redis is not null)
        {
            await redis.DisposeAsync();
        }
        if (postgresRunning)
        {
            try
            {
                await StopPostgresAsync();
            }
            catch (InvalidOperationException)
            {
            }
        }
        if (Environment.GetEnvironmentVariable("PAYMENTS_KEEP_LOGS") is not { Length: > 0 })
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>One gateway process (the Vault or a Host): start, wait for ready, kill, stop, start again.</summary>
public sealed class GatewayProcess
{
    private readonly string dll;
    private readonly string logFile;
    private readonly Func<int, Dictionary<string, string>> environment;
    private Process? process;

    internal GatewayProcess(string name, string dll, int port, string logFile, Func<int, Dictionary<string, string>> environment)
    {
        Name = name;
        this.dll = dll;
        Port = port;
        this.logFile = logFile;
        this.environment = environment;
    }

    public string Name { get; }

    public int Port { get; }

    public Uri BaseUrl => new($"http://127.0.0.1:{Port}/");

    /// <summary>The process' PID while it runs.</summary>
    public int? Pid => process is { HasExited: false } ? process.Id : null;

    /// <summary>Standard output and error of every start, appended.</summary>
    public string LogFile => logFile;

    internal static ProcessStartInfo StartInfo(string dll, Dictionary<string, string> env)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } d && File.Exists(d) ? d : "dotnet";
        // Started in its output folder so appsettings.json (log levels) is found, as run.sh does.
        var psi = new ProcessStartInfo(dotnet)
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        // Nothing inherited from a developer's shell or a test run may point the process elsewhere.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) ||
                                                           k.StartsWith("Auth__", StringComparison.Ordinal) ||
                                                           k.StartsWith("Vault__", StringComparison.Ordinal) ||
                                                           k.StartsWith("Gateway__", StringComparison.Ordinal) ||
                                                           k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }
        return psi;
    }

    /// <summary>Starts the process and waits until <c>/health/ready</c> answers 200.</summary>
    public async Task StartAsync(TimeSpan? readyTimeout = null)
    {
        if (Pid is not null)
        {
            throw new InvalidOperationException($"{Name} is already running.");
        }
        process?.Dispose();
        process = Process.Start(StartInfo(dll, environment(Port))) ?? throw new InvalidOperationException($"Cannot start {Name}.");
        var log = new StreamWriter(new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var gate = new object();
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.Exited += (_, _) =>
        {
            lock (gate)
            {
                log.Dispose();
            }
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await WaitReadyAsync(readyTimeout ?? TimeSpan.FromSeconds(90));

        void Write(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (gate)
            {
                try
                {
                    log.WriteLine(line);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    /// <summary>Waits until <c>/health/ready</c> answers 200 (the process may be started by someone else).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(2) };
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            if (process is { HasExited: true })
            {
                throw new InvalidOperationException($"{Name} exited with {process.ExitCode} before it was ready: {Tail()}");
            }
            try
            {
                using var res = await http.GetAsync(new Uri("health/ready", UriKind.Relative));
                if (res.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"{Name} not ready within {timeout}: {Tail()}");
            }
            await Task.Delay(100);
        }
    }

    private string Tail()
    {
        try
        {
            using var fs = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(fs);
            return GatewayProcesses.Tail(reader.ReadToEnd(), 3000);
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    /// <summary>SIGKILL: the process dies at once, mid-request (a crash).</summary>
    public async Task KillAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM and wait for a graceful exit (up to 30 s, then SIGKILL).</summary>
    public async Task StopAsync()
    {
        if (process is not { HasExited: false })
        {
            return;
        }
        try
        {
            await ProcessRunner.RunAsync("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
            await KillAsync();
        }
    }

    /// <summary>Stops (gracefully) and starts again on the same port.</summary>
    public async Task RestartAsync(TimeSpan? readyTimeout = null)
    {
        await StopAsync();
        await StartAsync(readyTimeout);
    }
}

/// <summary>Reads <c>/proc</c>: process liveness and parent links.</summary>
public static class ProcStat
{
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // A zombie (state Z) holds no resources and no port.
            return Field(stat, 3) != "Z";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>PIDs whose parent is <paramref name="pid"/>.</summary>
    public static List<int> ChildrenOf(int pid)
    {
        var list = new List<int>();
        foreach (var d in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var child))
            {
                continue;
            }
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                if (Field(stat, 4) == pid.ToString(CultureInfo.InvariantCulture))
                {
                    list.Add(child);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return list;
    }

    /// <summary>Field N (1-based, as in proc(5)) of a <c>/proc/PID/stat</c> line; the command name may hold spaces.</summary>
    public static string Field(string stat, int n)
    {
        if (n <= 2)
        {
            return n == 1 ? stat[..stat.IndexOf(' ', StringComparison.Ordinal)] : stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..stat.LastIndexOf(')')];
        }
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return rest[n - 3];
    }
}
