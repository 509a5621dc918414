using System.Net;
using System.Net.Sockets;

namespace Payments.TestKit;

public static class LoopbackPorts
{
    private const int LowestPort = 10_000;
    private static int nextPort = -1;

    /// <summary>
    /// A loopback port nobody listens on, for a server started later. Taken below the kernel's ephemeral range: a port
    /// the kernel handed out (bind to 0) and released can be handed out again as the local end of any outgoing
    /// connection before the server binds it, and a Vault process then died on "address in use" (1 suite run in 4).
    /// Ports are taken in turn from a random start, so one test process never hands out the same port twice.
    /// </summary>
    public static int Free()
    {
        var span = EphemeralLow() - LowestPort;
        if (span < 1_000)
        {
            using var any = new TcpListener(IPAddress.Loopback, 0);
            any.Start();
            return ((IPEndPoint)any.LocalEndpoint).Port;
        }
        Interlocked.CompareExchange(ref nextPort, Random.Shared.Next(span), -1);
        for (var attempt = 0; attempt < span; attempt++)
        {
            var port = LowestPort + (int)((uint)Interlocked.Increment(ref nextPort) % (uint)span);
            try
            {
                using var l = new TcpListener(IPAddress.Loopback, port);
                l.Start();
                return port;
            }
            catch (SocketException)
            {
                // In use: the next one.
            }
        }
        throw new InvalidOperationException("No free loopback port below the ephemeral range.");
    }

    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768; // Linux's default
        }
    }
}
