using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Payments.BuildingBlocks.Hosting;

/// <summary>
/// What live mode refuses at start-up, for both processes: secrets that are known (the docker-compose and
/// documentation defaults), all one byte (all-zero included), shorter than 32 bytes, or equal to another secret of the
/// process (compared as decoded bytes, so two spellings of one key are one key); and a plain <c>http://</c> URL
/// anywhere but loopback. Each failure names the setting, never its value. See docs/adr/0116-live-mode-start-up-checks.md.
/// </summary>
public static class LiveModeGuard
{
    /// <summary>Published defaults (docker-compose.yml): anyone who read the repository knows them.</summary>
    private static readonly string[] KnownBase64 =
    [
        "ZGV2LW9ubHktc2VydmljZS1rZXktMzItYnl0ZXMhISE=", // VAULT_SERVICE_KEY
        "ZGV2LW9ubHktd2ViaG9vay1zZWFsaW5nLWtleSEhISE=", // WEBHOOKS_SECRET_KEY
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // VAULT_KEK_1
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", // VAULT_KEK_2
    ];

    private static readonly string[] KnownPasswords = ["app-dev-only", "vault-dev-only", "vault-owner-dev-only", "payments-dev-only"];

    public static bool IsLive(IConfiguration config) =>
        string.Equals(config["Gateway:Mode"], nameof(GatewayMode.Live), StringComparison.OrdinalIgnoreCase);

    /// <summary>Problems with base64 key settings (name → value); empty when all are strong and distinct.</summary>
    public static List<string> CheckKeys(IEnumerable<(string Name, string? Base64)> keys)
    {
        var problems = new List<string>();
        var known = KnownBase64.Select(Convert.FromBase64String).ToList();
        var seen = new List<(string Name, byte[] Bytes)>();
        foreach (var (name, value) in keys)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                problems.Add($"{name} is not set.");
                continue;
            }
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(value.Trim());
            }
            catch (FormatException)
            {
                problems.Add($"{name} is not base64.");
                continue;
            }
            if (bytes.Length < 32)
            {
                problems.Add($"{name} is shorter than 32 bytes.");
            }
            else if (bytes.All(b => b == bytes[0]))
            {
                problems.Add($"{name} is one byte repeated (all-zero or similar): not a key.");
            }
            else if (known.Any(k => k.AsSpan().SequenceEqual(bytes)))
            {
                problems.Add($"{name} is a published default (docker-compose.yml): generate a key.");
            }
            if (seen.FirstOrDefault(s => s.Bytes.AsSpan().SequenceEqual(bytes)) is { Name: { } other })
            {
                problems.Add($"{name} equals {other}: every key must be its own.");
            }
            seen.Add((name, bytes));
        }
        return problems;
    }

    /// <summary>A connection string whose password is a published default.</summary>
    public static string? CheckPassword(string name, string? connectionString)
    {
        if (string.IsNullOrEmpty(connectionString))
        {
            return null;
        }
        foreach (var part in connectionString.Split(';'))
        {
            var kv = part.Split('=', 2);
            if (kv.Length == 2 && kv[0].Trim().Equals("Password", StringComparison.OrdinalIgnoreCase) &&
                KnownPasswords.Contains(kv[1].Trim(), StringComparer.Ordinal))
            {
                return $"{name} uses a published default password.";
            }
        }
        return null;
    }

    /// <summary>A URL that is plain HTTP somewhere other than loopback (https is required there).</summary>
    public static string? CheckUrl(string name, string? url)
    {
        if (string.IsNullOrWhiteSpace(url) || url.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri))
        {
            return $"{name} is not an absolute URL.";
        }
        return uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri.Host)
            ? $"{name} is plain http:// on a non-loopback address ({uri.Host}): live mode requires https:// there."
            : null;
    }

    private static bool IsLoopback(string host)
    {
        var h = host.Trim('[', ']');
        return h.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(h, out var ip) && IPAddress.IsLoopback(ip));
    }

    /// <summary>Throws one exception listing every problem, so an operator fixes them in one go.</summary>
    public static void ThrowIfAny(string process, IReadOnlyCollection<string> problems)
    {
        if (problems.Count > 0)
        {
            throw new InvalidOperationException(
                $"{process} refuses to start in live mode (Gateway:Mode=Live): " + string.Join(" ", problems));
        }
    }

    /// <summary>
    /// <c>Strict-Transport-Security</c> on every answer over HTTPS to a non-loopback address (API.md, Conventions):
    /// a browser that once reached the page over TLS never falls back to plain HTTP.
    /// </summary>
    public static IApplicationBuilder UseHstsOffLoopback(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (context.Request.IsHttps && context.Connection.LocalIpAddress is { } local && !IPAddress.IsLoopback(local))
            {
                context.Response.Headers.StrictTransportSecurity = "max-age=31536000; includeSubDomains";
            }
            return next(context);
        });
}
