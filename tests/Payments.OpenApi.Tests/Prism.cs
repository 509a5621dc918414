using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Payments.OpenApi.Tests;

/// <summary>
/// Stoplight Prism as a validating proxy (<c>prism proxy --errors</c>) in front of an upstream: every request and
/// answer is checked against the document; a violation becomes an error answer and an <c>sl-violations</c> header.
/// </summary>
internal sealed class Prism : IAsyncDisposable
{
    private readonly Process process;
    private readonly Task<string> output;

    private Prism(Process process, Uri url)
    {
        this.process = process;
        Url = url;
        output = Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync())
            .ContinueWith(t => string.Concat(t.Result), TaskScheduler.Default);
    }

    public Uri Url { get; }

    public static async Task<Prism> StartAsync(string document, Uri upstream)
    {
        var port = LoopbackPorts.Free();
        var psi = new ProcessStartInfo(Tools.Bin("prism"))
        {
            WorkingDirectory = Tools.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "proxy", document, upstream.ToString().TrimEnd('/'), "--errors", "--port", port.ToString(CultureInfo.InvariantCulture), "--host", "127.0.0.1", "--cors=false" })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["NO_COLOR"] = "1";
        var prism = new Prism(Process.Start(psi) ?? throw new InvalidOperationException("Cannot start prism"), new Uri($"http://127.0.0.1:{port}/"));
        // Ready when its port accepts a connection (it prints nothing reliable to wait on across versions).
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (prism.process.HasExited)
            {
                throw new InvalidOperationException("prism exited: " + await prism.output);
            }
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync("127.0.0.1", port, cts.Token);
                return prism;
            }
            catch (SocketException)
            {
                await Task.Delay(100, cts.Token);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }
}
