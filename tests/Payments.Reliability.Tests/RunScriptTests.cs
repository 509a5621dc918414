using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Payments.Reliability.Tests;

/// <summary>One ./run.sh shared by the tests that only look at it.</summary>
public sealed class RunScriptGateway : IAsyncLifetime
{
    internal RunScript Run { get; private set; } = null!;

    /// <summary>Telemetry settings in run.sh's environment (README, ADR 120), harmless without a collector; and one it must not pass on.</summary>
    internal static readonly Dictionary<string, string> Variables = new(StringComparer.Ordinal)
    {
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["Telemetry__SampleInterval"] = "00:00:20",
        ["PAYMENTS_RUNSH_UNRELATED"] = "not-for-the-processes",
    };

    public async Task InitializeAsync() => Run = await RunScript.StartAsync(Variables);

    public async Task DisposeAsync()
    {
        if (Run is not null)
        {
            await Run.DisposeAsync();
        }
    }
}

/// <summary>
/// What the processes ./run.sh starts hold (issue 15, items 2, 3 and 4): each only its own secrets, the serving Vault
/// without the owner credential, the Host without a Data Protection key ring. Checked on the real processes, as the
/// Host's OS user would look for the Vault's secrets. See SECURITY.md and ADRs 110 and 111.
/// </summary>
[Collection("run.sh")]
public sealed class RunScriptIsolationTests(RunScriptGateway gateway) : IClassFixture<RunScriptGateway>
{
    private RunScript Run => gateway.Run;

    /// <summary>The Vault's database password, the owner's, and each KEK component (one file per custodian).</summary>
    private Dictionary<string, string> VaultSecrets()
    {
        var secrets = new Dictionary<string, string>
        {
            ["VAULT_DB_PASSWORD"] = Run.Secrets("vault.env")["VAULT_DB_PASSWORD"],
            ["VAULT_OWNER_DB_PASSWORD"] = Run.Secrets("vault-owner.env")["VAULT_OWNER_DB_PASSWORD"],
        };
        foreach (var file in KekComponentFiles())
        {
            secrets["KEK component " + Path.GetFileName(file)] = File.ReadAllText(file).Trim();
        }
        return secrets;
    }

    private string[] KekComponentFiles()
    {
        var files = Directory.GetFiles(Path.Combine(Run.Data, "secrets", "kek"), "custodian-*.key").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(3, files.Length);
        return files;
    }

    [Fact]
    public async Task The_kek_components_are_in_separate_files_only_the_vault_user_reads_and_never_in_an_environment()
    {
        var vaultEnv = await EnvironOfAsync(Run.RecordedPid("vault")!.Value);
        var files = KekComponentFiles();
        var components = files.Select(f => File.ReadAllText(f).Trim()).ToArray();

        Assert.Equal(3, components.Distinct(StringComparer.Ordinal).Count());
        Assert.False(OperatingSystem.IsWindows());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
                File.GetUnixFileMode(Path.Combine(Run.Data, "secrets", "kek")));
            foreach (var file in files)
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
        if (RunScript.IsRoot)
        {
            var (_, owners) = await RunScript.RunAsync("stat", ["-c", "%U", .. files]);
            Assert.All(owners.Split('\n', StringSplitOptions.RemoveEmptyEntries), o => Assert.Equal("payments-vault", o.Trim()));
        }
        // No file but a custodian's holds a component, and the Vault's environment holds only their paths.
        Assert.DoesNotContain("VAULT_KEK", File.ReadAllText(Path.Combine(Run.Data, "secrets", "vault.env")), StringComparison.Ordinal);
        foreach (var component in components)
        {
            Assert.DoesNotContain(component, vaultEnv, StringComparison.Ordinal);
        }
        foreach (var file in files)
        {
            Assert.Contains(file, vaultEnv, StringComparison.Ordinal);
        }
        // The development default says so in the Vault's log.
        Assert.Contains("uses the development default", Run.Log("vault"), StringComparison.Ordinal);
    }

    private static async Task<string> EnvironOfAsync(int pid) =>
        (await File.ReadAllTextAsync($"/proc/{pid}/environ")).Replace('\0', '\n');

    [Fact]
    public async Task The_host_user_can_read_no_vault_secret_in_any_process_environment_or_file()
    {
        var hostPid = Run.RecordedPid("host")!.Value;
        var vaultPid = Run.RecordedPid("vault")!.Value;
        var secrets = VaultSecrets();
        var hostDbPassword = Run.Secrets("host.env")["PAYMENTS_DB_PASSWORD"];

        // Everything the Host's OS user can read: its own environment, the Vault's (refused: another user, and the
        // Vault is non-dumpable), every process' command line, every readable file under the data directory (which
        // holds the secrets, the logs, the copies of the build and both home directories).
        var user = RunScript.IsRoot ? "payments-host" : Environment.UserName;
        var script = "cat /proc/$1/environ; echo; cat /proc/$2/environ; echo; cat /proc/[0-9]*/cmdline; echo; " +
                     "find \"$3\" -xdev -type f -readable -print0 2>/dev/null | xargs -0 -r cat 2>/dev/null; true";
        var args = new List<string>();
        if (RunScript.IsRoot)
        {
            args.AddRange(["--reuid=" + user, "--regid=" + user, "--clear-groups"]);
        }
        args.AddRange(["--", "bash", "-c", script, "scan", hostPid.ToString(CultureInfo.InvariantCulture),
            vaultPid.ToString(CultureInfo.InvariantCulture), RunScript.IsRoot ? Run.Data : Path.Combine(Run.Data, "logs")]);
        var (_, seen) = await RunScript.RunAsync("setpriv", [.. args]);

        // The scan works: the Host's own database password, in its own environment, is found.
        Assert.Contains(hostDbPassword, seen, StringComparison.Ordinal);
        foreach (var (name, value) in secrets)
        {
            Assert.False(seen.Contains(value, StringComparison.Ordinal), $"The Host's OS user can read {name}.");
        }
        if (RunScript.IsRoot)
        {
            Assert.NotEqual(File.ReadAllLines($"/proc/{hostPid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)),
                File.ReadAllLines($"/proc/{vaultPid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task Each_process_is_given_only_its_own_secrets()
    {
        var hostEnv = await EnvironOfAsync(Run.RecordedPid("host")!.Value);
        var vaultEnv = await EnvironOfAsync(Run.RecordedPid("vault")!.Value);

        foreach (var (name, value) in VaultSecrets())
        {
            Assert.False(hostEnv.Contains(value, StringComparison.Ordinal), $"The Host was given {name}.");
        }
        var host = Run.Secrets("host.env");
        foreach (var name in new[] { "PAYMENTS_DB_PASSWORD", "AUTH_KEY_ENCRYPTION_KEY", "WEBHOOKS_SECRET_KEY", "IDEMPOTENCY_SECRET_KEY" })
        {
            Assert.Contains(host[name], hostEnv, StringComparison.Ordinal);
            Assert.False(vaultEnv.Contains(host[name], StringComparison.Ordinal), $"The Vault was given the Host's {name}.");
        }
        Assert.DoesNotContain("ConnectionStrings__Redis", vaultEnv, StringComparison.Ordinal);
        // The shared service key is the one secret both hold.
        Assert.Contains(host["VAULT_SERVICE_KEY"], vaultEnv, StringComparison.Ordinal);
        Assert.Contains("DOTNET_EnableDiagnostics=0", vaultEnv, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Telemetry_settings_in_run_shs_environment_reach_both_processes_and_nothing_else_of_it_does()
    {
        foreach (var name in new[] { "host", "vault" })
        {
            var environ = await EnvironOfAsync(Run.RecordedPid(name)!.Value);
            Assert.Contains("\nOTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n", "\n" + environ, StringComparison.Ordinal);
            Assert.Contains("\nTelemetry__SampleInterval=00:00:20\n", "\n" + environ, StringComparison.Ordinal);
            Assert.DoesNotContain("PAYMENTS_RUNSH_UNRELATED", environ, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_serving_vault_has_no_owner_credential_and_its_role_cannot_rewrite_audit_or_keys()
    {
        var vaultEnv = await EnvironOfAsync(Run.RecordedPid("vault")!.Value);
        Assert.DoesNotContain("VaultMigrations", vaultEnv, StringComparison.Ordinal);
        Assert.DoesNotContain(Run.Secrets("vault-owner.env")["VAULT_OWNER_DB_PASSWORD"], vaultEnv, StringComparison.Ordinal);
        Assert.DoesNotContain("vault_owner", vaultEnv, StringComparison.Ordinal);

        // What code running in the Vault could do with the credential it has.
        var serving = $"Host=127.0.0.1;Port={Run.Ports["PG_PORT"]};Username=vault;Password={Run.Secrets("vault.env")["VAULT_DB_PASSWORD"]};Database=vault;Pooling=false";
        await using var conn = new NpgsqlConnection(serving);
        await conn.OpenAsync();
        foreach (var sql in new[]
                 {
                     "ALTER TABLE vault.audit_log DISABLE TRIGGER ALL",
                     "ALTER TABLE vault.audit_log DISABLE TRIGGER USER",
                     "ALTER TABLE vault.data_protection_keys DISABLE TRIGGER USER",
                     "UPDATE vault.audit_log SET detail = detail",
                     "DELETE FROM vault.audit_log",
                     "UPDATE vault.data_protection_keys SET xml = xml",
                     "DELETE FROM vault.data_protection_keys",
                     "TRUNCATE vault.audit_log",
                     "SET session_replication_role = replica",
                     "ALTER ROLE vault SUPERUSER",
                 })
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
        }
        await using var keys = new NpgsqlCommand("SELECT count(*) FROM vault.data_protection_keys", conn);
        Assert.True((long)(await keys.ExecuteScalarAsync())! > 0, "the serving role reads the keys it is granted");
    }

    [Fact]
    public async Task The_host_writes_no_data_protection_key_ring()
    {
        // A merchant API call goes through authentication, where Data Protection used to come in.
        using var http = new HttpClient();
        using var res = await http.GetAsync(new Uri(Run.HostUrl, "v1/events"));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, res.StatusCode);

        var home = Path.Combine(Run.Data, "home", "host");
        Assert.True(Directory.Exists(home), "run.sh gives the Host its own HOME");
        Assert.Empty(Directory.EnumerateFileSystemEntries(home, "*", SearchOption.AllDirectories));
        Assert.Contains($"HOME={home}\n", await EnvironOfAsync(Run.RecordedPid("host")!.Value), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_problem_type_names_the_configured_origin_whatever_Host_header_the_caller_sends()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Run.HostUrl, "v1/nope"));
        request.Headers.Host = "evil.example";
        using var res = await http.SendAsync(request);
        using var problem = System.Text.Json.JsonDocument.Parse(await res.Content.ReadAsStringAsync());

        Assert.Equal(new Uri(Run.HostUrl, "docs/errors#not_found").AbsoluteUri, problem.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task The_vaults_problems_have_a_code_and_the_hosts_page_for_it_as_type()
    {
        using var http = new HttpClient();
        using var card = await http.PostAsync(new Uri(Run.VaultUrl, "v1/tokenization-intents/tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y/card"),
            new StringContent("""{"client_secret":"x","number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123","holder_name":"A B"}""",
                System.Text.Encoding.UTF8, "application/json"));
        using var unknown = await http.GetAsync(new Uri(Run.VaultUrl, "v1/nope"));

        foreach (var (answer, code) in new[] { (card, "not_found"), (unknown, "not_found") })
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, answer.StatusCode);
            using var problem = System.Text.Json.JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
            var root = problem.RootElement;
            Assert.Equal(code, root.GetProperty("code").GetString());
            Assert.False(string.IsNullOrEmpty(root.GetProperty("detail").GetString()));
            Assert.Equal(answer.Headers.GetValues("Request-Id").Single(), root.GetProperty("request_id").GetString());
            Assert.False(root.TryGetProperty("trace_id", out _));
            var type = root.GetProperty("type").GetString()!;
            Assert.Equal(new Uri(Run.HostUrl, "docs/errors#" + code).AbsoluteUri, type);
            using var page = await http.GetAsync(type);
            Assert.Equal(System.Net.HttpStatusCode.OK, page.StatusCode);
            Assert.Contains($"id=\"{code}\"", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_answers_Request_Id_is_in_the_Host_log_without_the_path_it_was_asked_for()
    {
        using var http = new HttpClient();
        var ids = new List<string>();
        foreach (var path in new[] { "v1/transactions/4242424242424242", "v1/nope", "health/ready" })
        {
            using var res = await http.GetAsync(new Uri(Run.HostUrl, path));
            ids.Add(res.Headers.GetValues("Request-Id").Single());
        }

        var log = Path.Combine(Run.Data, "logs", "host.log");
        string text = "";
        for (var i = 0; i < 300 && !ids.All(id => text.Contains(id, StringComparison.Ordinal)); i++)
        {
            await Task.Delay(100); // the console logger writes from its own queue
            text = await File.ReadAllTextAsync(log);
        }
        Assert.All(ids, id => Assert.Contains($"\"request_id\":\"{id}\"", text, StringComparison.Ordinal));
        Assert.DoesNotContain("4242424242424242", text, StringComparison.Ordinal);
    }
}

/// <summary>run.sh supervises (issue 15, item 8): a killed process comes back, signals stop everything, a new run after a crash works.</summary>
[Collection("run.sh")]
public sealed class RunScriptSupervisionTests
{
    [Fact]
    public async Task A_killed_host_is_restarted_sigterm_stops_all_and_a_run_after_a_crash_serves()
    {
        await using var run = await RunScript.StartAsync();
        var vault = run.RecordedPid("vault")!.Value;
        var host = run.RecordedPid("host")!.Value;

        await RunScript.SignalAsync(host, "KILL");
        Assert.True(await RunScript.WaitHealthyAsync(new Uri(run.HostUrl, "health/ready"), TimeSpan.FromSeconds(90)),
            "the Host serves again after kill -9: " + run.Output);
        Assert.NotEqual(host, run.RecordedPid("host"));
        Assert.Contains("host (pid " + host.ToString(CultureInfo.InvariantCulture) + ") exited", run.Output, StringComparison.Ordinal);
        Assert.True(RunScript.IsAlive(vault), "the Vault kept running");

        // run.sh itself dies hard: its Host and Vault must not survive it holding the ports.
        host = run.RecordedPid("host")!.Value;
        await RunScript.SignalAsync(run.ScriptPid!.Value, "KILL");
        Assert.True(await run.WaitForScriptExitAsync(TimeSpan.FromSeconds(10)));
        await run.StartAgainAsync();
        Assert.False(RunScript.IsAlive(host) || RunScript.IsAlive(vault), "a process of the crashed run is still alive");
        Assert.True(await RunScript.WaitHealthyAsync(new Uri(run.VaultUrl, "health/ready"), TimeSpan.FromSeconds(5)));

        // SIGTERM (what Ctrl-C does to the whole group, and what a service manager sends) stops both processes.
        host = run.RecordedPid("host")!.Value;
        vault = run.RecordedPid("vault")!.Value;
        await RunScript.SignalAsync(run.ScriptPid!.Value, "TERM");
        Assert.True(await run.WaitForScriptExitAsync(TimeSpan.FromSeconds(30)), "run.sh exits on SIGTERM");
        Assert.False(RunScript.IsAlive(host), "the Host outlived run.sh");
        Assert.False(RunScript.IsAlive(vault), "the Vault outlived run.sh");
    }
}

/// <summary>
/// run.sh on a shared machine (black-box audit of run.sh): it starts nothing it cannot finish, takes no port, process,
/// Redis or PostgreSQL that is not its own for its own, and says why a process did not start.
/// </summary>
[Collection("run.sh")]
public sealed class RunScriptSafetyTests
{
    [Fact]
    public async Task An_unknown_verb_or_help_starts_nothing_and_prints_the_usage()
    {
        await using var run = RunScript.Create();

        var unknown = await run.RunToExitAsync("bogus");
        Assert.Equal(2, unknown.Code);
        Assert.Contains("unknown command: bogus", unknown.Stderr, StringComparison.Ordinal);
        Assert.Contains("Usage: ./run.sh", unknown.Stderr, StringComparison.Ordinal);
        foreach (var help in new[] { "help", "--help", "-h" })
        {
            var answer = await run.RunToExitAsync(help);
            Assert.Equal(0, answer.Code);
            Assert.Contains("Usage: ./run.sh", answer.Stdout, StringComparison.Ordinal);
            Assert.Contains("service-key rotate", answer.Stdout, StringComparison.Ordinal);
        }
        Assert.False(Directory.Exists(Path.Combine(run.Data, "pg")), "PostgreSQL was set up for a verb that does not exist");
        Assert.False(Listens(run.Ports["REDIS_PORT"]), "Redis was started for a verb that does not exist");
    }

    [Fact]
    public async Task A_port_another_program_listens_on_is_refused_by_name_before_anything_starts()
    {
        foreach (var taken in new[] { "HOST_PORT", "VAULT_INTERNAL_PORT", "PG_PORT" })
        {
            await using var run = RunScript.Create();
            var port = run.Ports[taken];
            // Answers 200 to anything, as a health endpoint would: run.sh once took it for its Host.
            using var foreign = new TcpListener(IPAddress.Loopback, port);
            foreign.Start();
            using var stop = new CancellationTokenSource();
            var serving = AnswerOkAsync(foreign, stop.Token);
            try
            {
                await Assert.ThrowsAsync<InvalidOperationException>(() => run.StartAgainAsync());
                Assert.Contains($"port {port.ToString(CultureInfo.InvariantCulture)} ({taken})", run.Output, StringComparison.Ordinal);
                Assert.DoesNotContain("Payments gateway running", run.Output, StringComparison.Ordinal);
                Assert.False(File.Exists(Path.Combine(run.Data, "pg", "data", "postmaster.pid")), "PostgreSQL was started");
                Assert.False(Listens(run.Ports["REDIS_PORT"]), "Redis was started");
                Assert.Null(run.RecordedPid("vault"));
                Assert.Null(run.RecordedPid("host"));
            }
            finally
            {
                await stop.CancelAsync();
                foreign.Stop();
                await serving;
            }
        }
    }

    private static async Task AnswerOkAsync(TcpListener listener, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(ct);
                var stream = client.GetStream();
                var buffer = new byte[4096];
                _ = await stream.ReadAsync(buffer, ct);
                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray(), ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
        }
    }

    private static bool Listens(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Stop_leaves_alone_what_a_stale_pid_file_names_when_it_only_looks_like_the_gateway()
    {
        await using var run = RunScript.Create();
        var rundir = Path.Combine(run.Data, "run");
        Directory.CreateDirectory(rundir);
        // What every gateway's processes looked like on this machine, whatever its checkout: a PID recycled to one of
        // them (or another checkout's Host) was killed by "./run.sh stop".
        var lookalikes = new Dictionary<string, Process>(StringComparer.Ordinal)
        {
            ["host"] = Lookalike("/usr/share/dotnet/dotnet Payments.Host.dll"),
            ["vault"] = Lookalike("/usr/share/dotnet/dotnet Payments.Vault.dll"),
            ["run.sh"] = Lookalike("bash ./run.sh"),
        };
        try
        {
            foreach (var (name, p) in lookalikes)
            {
                await File.WriteAllTextAsync(Path.Combine(rundir, name + ".pid"), p.Id.ToString(CultureInfo.InvariantCulture) + "\n");
            }

            var stop = await run.RunToExitAsync("stop");

            Assert.Equal(0, stop.Code);
            foreach (var (name, p) in lookalikes)
            {
                Assert.False(p.HasExited, $"./run.sh stop killed the process {name}.pid named, which is not its {name}");
            }
        }
        finally
        {
            foreach (var p in lookalikes.Values)
            {
                if (!p.HasExited)
                {
                    p.Kill();
                }
                p.Dispose();
            }
            foreach (var name in lookalikes.Keys)
            {
                File.Delete(Path.Combine(rundir, name + ".pid"));
            }
        }
    }

    /// <summary>A sleep whose command line reads <paramref name="cmdline"/>, started outside the checkout.</summary>
    private static Process Lookalike(string cmdline)
    {
        var psi = new ProcessStartInfo("bash") { UseShellExecute = false, WorkingDirectory = "/" };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec -a \"$0\" sleep 600");
        psi.ArgumentList.Add(cmdline);
        return Process.Start(psi) ?? throw new InvalidOperationException("Cannot start sleep.");
    }

    [Fact]
    public async Task A_redis_of_another_data_directory_on_REDIS_PORT_is_neither_stopped_nor_used()
    {
        await using var run = RunScript.Create();
        var port = run.Ports["REDIS_PORT"].ToString(CultureInfo.InvariantCulture);
        var dir = Path.Combine(run.Root, "foreign-redis");
        Directory.CreateDirectory(dir);
        var (started, _) = await RunScript.RunAsync("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", port,
            "--save", "", "--appendonly", "no", "--dir", dir, "--pidfile", Path.Combine(dir, "redis.pid"), "--logfile", Path.Combine(dir, "redis.log"));
        Assert.Equal(0, started);
        try
        {
            Assert.True(await PingsAsync(port), "the foreign Redis runs");

            var stop = await run.RunToExitAsync("stop");
            Assert.Equal(0, stop.Code);
            Assert.True(await PingsAsync(port), "./run.sh stop shut down a Redis that is not its own: " + stop.Stderr);

            await Assert.ThrowsAsync<InvalidOperationException>(() => run.StartAgainAsync());
            Assert.Contains($"port {port} (REDIS_PORT)", run.Output, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(run.Data, "pg", "data", "postmaster.pid")), "PostgreSQL was started");
            Assert.True(await PingsAsync(port), "the foreign Redis runs still");
        }
        finally
        {
            await RunScript.RunAsync("redis-cli", "-p", port, "shutdown", "nosave");
        }
    }

    private static async Task<bool> PingsAsync(string port)
    {
        var (code, stdout) = await RunScript.RunAsync("redis-cli", "-p", port, "ping");
        return code == 0 && stdout.Trim() == "PONG";
    }

    [Fact]
    public async Task Live_mode_refuses_the_development_kek_unless_accepted_says_why_the_vault_stopped_and_runs_with_its_acquirer_named()
    {
        await using var run = RunScript.Create();
        run.Variables["GATEWAY_MODE"] = "Live";

        // ADR 125: components generated on one machine are not split knowledge; live mode asks for it knowingly.
        var refused = await run.RunToExitAsync();
        Assert.NotEqual(0, refused.Code);
        Assert.Contains("development KEK", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("ALLOW_DEVELOPMENT_KEK=1", refused.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run.Data, "pg", "data", "postmaster.pid")), "PostgreSQL was started");

        // ADR 116: a live Vault names its acquirer. Without it the Vault stops, and run.sh says why, not only where.
        run.Variables["ALLOW_DEVELOPMENT_KEK"] = "1";
        await Assert.ThrowsAsync<InvalidOperationException>(() => run.StartAgainAsync());
        Assert.Contains("Vault not ready", run.Output, StringComparison.Ordinal);
        Assert.Contains("Vault:Acquirer is not set", run.Output, StringComparison.Ordinal);

        run.Variables["Vault__Acquirer"] = "Sandbox";
        run.Variables["Telemetry__Enabled"] = "false";
        await run.StartAgainAsync();
        Assert.Contains("Payments gateway running in Live mode", run.Output, StringComparison.Ordinal);
        Assert.Contains("development KEK", run.Output, StringComparison.Ordinal);
        // Every run after the first sets the roles up again: without a psql NOTICE on the terminal.
        Assert.DoesNotContain("NOTICE", run.Output, StringComparison.Ordinal);
        // Telemetry__Enabled=false reached both processes: no /metrics (ADR 120).
        using var http = new HttpClient();
        foreach (var port in new[] { run.Ports["HOST_MANAGEMENT_PORT"], run.Ports["VAULT_MANAGEMENT_PORT"] })
        {
            using var metrics = await http.GetAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/metrics"));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, metrics.StatusCode);
        }
    }
}
