using System.Net;
using System.Net.Sockets;
using Payments.BuildingBlocks.Text;

namespace Payments.Webhooks.Delivery;

/// <summary>
/// Where deliveries may go (SSRF): live mode only https on public addresses; sandbox also http and loopback.
/// Checked when an endpoint is registered and again on every connection, after DNS resolution, so a name that
/// later resolves to a private address is refused too.
/// </summary>
internal static class AddressPolicy
{
    /// <summary>Why <paramref name="url"/> may not be registered, or null when it may.</summary>
    public static string? CheckUrl(string url, bool sandbox)
    {
        if (UrlText.HasWhitespaceOrControl(url))
        {
            return UrlText.WhitespaceMessage;
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return "Must be an absolute URL.";
        }
        if (uri.Scheme != Uri.UriSchemeHttps && !(sandbox && uri.Scheme == Uri.UriSchemeHttp))
        {
            return sandbox ? "Must be an http or https URL." : "Must be an https URL.";
        }
        if (uri.Port == 0)
        {
            return UrlText.PortZeroMessage;
        }
        if (uri.UserInfo.Length > 0)
        {
            return "Must not carry credentials.";
        }
        if (uri.Fragment.Length > 0)
        {
            return "Must not carry a fragment.";
        }
        var host = uri.IdnHost.TrimEnd('.');
        if (IPAddress.TryParse(host.Trim('[', ']'), out var ip))
        {
            return IsAllowed(ip, sandbox) ? null : "Must point to a public address" + (sandbox ? " or loopback." : ".");
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
            host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return sandbox ? null : "Must point to a public address.";
        }
        if (!host.Contains('.', StringComparison.Ordinal))
        {
            return "Must be a fully qualified host name.";
        }
        return null;
    }

    public static bool IsAllowed(IPAddress address, bool sandbox) =>
        IsPublic(address) || (sandbox && IPAddress.IsLoopback(Unmap(address)));

    /// <summary>Globally routable unicast: not loopback, private, link-local, shared, documentation, multicast or reserved.</summary>
    public static bool IsPublic(IPAddress address)
    {
        address = Unmap(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> b = stackalloc byte[4];
            address.TryWriteBytes(b, out _);
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224 ||
                     (b[0] == 100 && b[1] >= 64 && b[1] <= 127) ||     // shared address space (CGNAT)
                     (b[0] == 169 && b[1] == 254) ||                    // link-local, cloud metadata
                     (b[0] == 172 && b[1] >= 16 && b[1] <= 31) ||
                     (b[0] == 192 && b[1] == 168) ||
                     (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2)) ||
                     (b[0] == 198 && (b[1] == 18 || b[1] == 19)) ||    // benchmarking
                     (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
                     (b[0] == 203 && b[1] == 0 && b[2] == 113));
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> b = stackalloc byte[16];
            address.TryWriteBytes(b, out _);
            if (address.Equals(IPAddress.IPv6Loopback) || address.Equals(IPAddress.IPv6Any))
            {
                return false;
            }
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address: judge that one.
            if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4..12].IndexOfAnyExcept((byte)0) < 0)
            {
                return IsPublic(new IPAddress(b[12..]));
            }
            return (b[0] & 0xe0) == 0x20 &&                            // 2000::/3 global unicast only
                   !(b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) && // documentation
                   !(b[0] == 0x20 && b[1] == 0x02);                    // 6to4 relays may reach private IPv4
        }
        return false;
    }

    private static IPAddress Unmap(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
