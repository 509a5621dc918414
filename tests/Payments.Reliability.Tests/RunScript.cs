using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Payments.TestKit;

namespace Payments.Reliability.Tests;

/// <summary>
/// <c>./run.sh</c> run for real (NO_BUILD=1: the test run builds first) in a temporary data directory on free ports,
/// as outside testers start the gateway. Disposing stops it (SIGTERM), then <c>./run.sh stop</c> stops PostgreSQL and
/// Redis, then any process still recorded in a PID file is killed and the directory removed.
/// </summary>
internal sealed class RunScript : IAsyncDisposable
{
    private readonly StringBuilder output = new();
    private readonly Lock gate = new();
    private Process? process;
    private TaskCompletionSource running = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RunScript()
    {
        Directory.CreateDirectory(Root);
        // The process users must be able to reach the data directory (it holds their copy of the build).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                   UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        Ports = new Dictionary<string, int>
        {
            ["PG_PORT"] = LoopbackPorts.Free(), ["REDIS_PORT"] = LoopbackPorts.Free(), ["HOST_PORT"] = LoopbackPorts.Free(), ["HOST_MANAGEMENT_PORT"] = LoopbackPorts.Free(),
            ["VAULT_PORT"] = LoopbackPorts.Free(), ["VAULT_INTERNAL_PORT"] = LoopbackPorts.Free(), ["VAULT_MANAGEMENT_PORT"] = LoopbackPorts.Free(),
        };
    }

    public static bool IsRoot => Environment.UserName == "root";

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "payments-runsh-" + Guid.NewGuid().ToString("N")[..10]);

    public string Data => Path.Combine(Root, "data");

    public IReadOnlyDictionary<string, int> Ports { get; }

    public Uri HostUrl => new($"http://127.0.0.1:{Ports["HOST_PORT"]}/");

    public Uri VaultUrl => new($"http://127.0.0.1:{Ports["VAULT_PORT"]}/");

    /// <summary>run.sh's standard output and error so far.</summary>
    public string Output
    {
        get
        {
            lock (gate)
            {
                return output.ToString();
            }
        }
    }

    public int? ScriptPid => process is { HasExited: false } ? process.Id : null;

    /// <summary>More variables for run.sh's environment (beside the data directory, the ports and NO_BUILD).</summary>
    public Dictionary<string, string> Variables { get; } = new(StringComparer.Ordinal);

    /// <summary>A run on its own data directory and ports, not started yet.</summary>
    public static RunScript Create() => new();

    public static async Task<RunScript> StartAsync(IReadOnlyDictionary<string, string>? environment = null)
    {
        var run = new RunScript();
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            run.Variables[k] = v;
        }
        try
        {
            await run.StartAgainAsync();
            return run;
        }
        catch
        {
            await run.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts ./run.sh (again, on the same data and ports) and waits for its "running" banner.</summary>
    public async Task StartAgainAsync()
    {
        running = new(TaskCreationOptions.RunContinuationsAsynchronously);
        process?.Dispose();
        process = Process.Start(StartInfo()) ?? throw new InvalidOperationException("Cannot start run.sh.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => running.TrySetException(new InvalidOperationException("run.sh exited before the gateway ran."));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await running.Task.WaitAsync(cts.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            if (process.HasExited)
            {
                // The exit can be reported before the last lines are read: wait for the streams to close, so the
                // message shows why it stopped (a fresh-clone run once showed only the previous run's output).
                process.WaitForExit();
            }
            throw new InvalidOperationException(
                $"run.sh did not start the gateway (exit {(process.HasExited ? process.ExitCode : "none")}): {Tail(Output)}\n{Tail(Log("vault"))}\n{Tail(Log("host"))}", e);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (gate)
        {
            output.AppendLine(line);
        }
        if (line.StartsWith("Payments gateway running", StringComparison.Ordinal))
        {
            running.TrySetResult();
        }
    }

    private ProcessStartInfo StartInfo(params string[] args)
    {
        var psi = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(RepositoryPaths.Root, "run.sh"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["PAYMENTS_DATA_DIR"] = Data;
        psi.Environment["NO_BUILD"] = "1";
        foreach (var (k, v) in Ports)
        {
            psi.Environment[k] = v.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var (k, v) in Variables)
        {
            psi.Environment[k] = v;
        }
        return psi;
    }

    /// <summary>Runs <c>./run.sh ARGS</c> to completion (an operator verb) and returns its standard output.</summary>
    public async Task<string> RunVerbAsync(params string[] args)
    {
        using var p = Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("Cannot start run.sh.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"run.sh {string.Join(' ', args)} exited {p.ExitCode}: {Tail(await stderr)}");
        }
        return await stdout;
    }

    /// <summary>Runs <c>./run.sh ARGS</c> to completion whatever its exit code; its code, standard output and error.</summary>
    public async Task<(int Code, string Stdout, string Stderr)> RunToExitAsync(params string[] args)
    {
        using var p = Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("Cannot start run.sh.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>The PID run.sh recorded for <c>host</c>, <c>vault</c> or <c>run.sh</c>.</summary>
    public int? RecordedPid(string name)
    {
        var file = Path.Combine(Data, "run", name + ".pid");
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    public string Log(string name)
    {
        var file = Path.Combine(Data, "logs", name + ".log");
        return File.Exists(file) ? File.ReadAllText(file) : "";
    }

    /// <summary>KEY=value pairs of one of the secrets files (read as the test's user: root).</summary>
    public IReadOnlyDictionary<string, string> Secrets(string file) =>
        File.ReadAllLines(Path.Combine(Data, "secrets", file))
            .Where(l => l.Contains('=', StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf('=', StringComparison.Ordinal)], l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..]);

    public static Task SignalAsync(int pid, string signal) => RunAsync("kill", "-" + signal, pid.ToString(CultureInfo.InvariantCulture));

    public static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/stat") &&
                                           !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);

    /// <summary>Waits for run.sh to exit (after a signal); true when it did within the timeout.</summary>
    public async Task<bool> WaitForScriptExitAsync(TimeSpan timeout)
    {
        if (process is null)
        {
            return true;
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Polls <paramref name="url"/> until it answers 2xx (a process being restarted has no event to await).</summary>
    public static async Task<bool> WaitHealthyAsync(Uri url, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            try
            {
                using var res = await http.GetAsync(url);
                if (res.IsSuccessStatusCode)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            catch (SocketException)
            {
                // A process killed while accepting: HttpClient let this through unwrapped once.
            }
            await Task.Delay(200);
        }
        return false;
    }

    /// <summary>Runs a command to completion; returns its standard output, and its exit code.</summary>
    public static async Task<(int Code, string Stdout)> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Cannot start {file}.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout);
    }

    private static string Tail(string s) => s.Length <= 3000 ? s : s[^3000..];

    public async ValueTask DisposeAsync()
    {
        if (process is { HasExited: false })
        {
            await SignalAsync(process.Id, "TERM");
            if (!await WaitForScriptExitAsync(TimeSpan.FromSeconds(30)))
            {
                process.Kill();
            }
        }
        process?.Dispose();
        try
        {
            await RunVerbAsync("stop");
        }
        catch (InvalidOperationException)
        {
        }
        // Whatever a failed test left behind.
        foreach (var name in new[] { "host", "vault" })
        {
            if (RecordedPid(name) is int pid && IsAlive(pid) &&
                File.ReadAllText($"/proc/{pid}/cmdline").Contains("Payments.", StringComparison.Ordinal))
            {
                await SignalAsync(pid, "KILL");
            }
        }
        if (Environment.GetEnvironmentVariable("PAYMENTS_KEEP_LOGS") is not { Length: > 0 })
        {
            try
            {
                Directory.Delete(Root, recursive: true);
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
