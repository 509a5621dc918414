using System.Globalization;
using Npgsql;

namespace Payments.Reliability.Tests;

/// <summary>One ./run.sh shared by the tests that only look at it.</summary>
public sealed class RunScriptGateway : IAsyncLifetime
{
    internal RunScript Run { get; private set; } = null!;

    public async Task InitializeAsync() => Run = await RunScript.StartAsync();

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
        for (var i = 0; i < 50 && !ids.All(id => text.Contains(id, StringComparison.Ordinal)); i++)
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
