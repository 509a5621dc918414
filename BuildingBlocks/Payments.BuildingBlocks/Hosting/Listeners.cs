using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Payments.BuildingBlocks.Hosting;

/// <summary>What a listener (a bound address) of a process is for. See docs/adr/0015-listeners-and-ports.md.</summary>
public enum ListenerRole
{
    /// <summary>What the outside world reaches: the merchant API (Host), the card-entry page (Vault).</summary>
    Public,

    /// <summary>The Vault's service API, reached only by the Host.</summary>
    Internal,

    /// <summary>Operators' scrape and probe surface: <c>/metrics</c> and health.</summary>
    Management,
}

/// <summary>
/// Settings under <c>Listeners</c>: one URL per role (<c>http://127.0.0.1:5080</c>, <c>https://0.0.0.0:443</c>,
/// <c>unix:/run/vault.sock</c>). A role left unset gets its default from the process's layout.
/// </summary>
public sealed class ListenerOptions
{
    public const string Section = "Listeners";

    public string? Public { get; set; }

    public string? Internal { get; set; }

    public string? Management { get; set; }

    /// <summary>
    /// Roles served to requests that came through none of these listeners: the in-memory test server, or a server the
    /// test harness bound itself (comma-separated, e.g. <c>Public,Internal,Management</c>). When set, the process binds
    /// no listener of its own. Unset in production: such a request then reaches no route.
    /// </summary>
    public string? Untagged { get; set; }
}

/// <summary>
/// Each process binds one listener per role and tags every connection with the role of the listener it came in on;
/// an endpoint names the roles it is served on (<see cref="OnListeners{TBuilder}"/>, default <see cref="ListenerRole.Public"/>)
/// and answers 404 anywhere else. The tag comes from the socket a connection was accepted on, never from the request's
/// Host header, path or port text, so no spelling of a path reaches an endpoint through the wrong listener.
/// </summary>
public static class Listeners
{
    private static readonly object RoleKey = typeof(ListenerRole);

    /// <summary>The documented layout (ADR 0015): each role's default URL for this process.</summary>
    public static WebApplicationBuilder UseGatewayListeners(
        this WebApplicationBuilder builder, IReadOnlyDictionary<ListenerRole, string> defaults)
    {
        builder.Services.Configure<ListenerOptions>(builder.Configuration.GetSection(ListenerOptions.Section));
        builder.Services.AddSingleton(new ListenerLayout(defaults));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ListenerMatcherPolicy>());
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var options = kestrel.ApplicationServices.GetRequiredService<IOptions<ListenerOptions>>().Value;
            if (!string.IsNullOrWhiteSpace(options.Untagged))
            {
                return; // the harness binds (or serves in memory); requests are untagged
            }
            foreach (var (role, url) in Resolve(options, defaults))
            {
                Bind(kestrel, role, url);
            }
        });
        return builder;
    }

    /// <summary>The URL each role of this process is bound to (configured, else the layout's default).</summary>
    public static IReadOnlyList<(ListenerRole Role, string Url)> Resolve(
        ListenerOptions options, IReadOnlyDictionary<ListenerRole, string> defaults) =>
        [.. defaults.Select(d => (d.Key, Configured(options, d.Key) ?? d.Value))];

    private static string? Configured(ListenerOptions o, ListenerRole role) => (role switch
    {
        ListenerRole.Public => o.Public,
        ListenerRole.Internal => o.Internal,
        _ => o.Management,
    }) is { Length: > 0 } url ? url.Trim() : null;

    private static void Bind(KestrelServerOptions kestrel, ListenerRole role, string url)
    {
        void Tag(ListenOptions listen)
        {
            if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                listen.UseHttps(); // certificate from Kestrel:Certificates:Default
            }
            listen.Use(next => connection =>
            {
                connection.Items[RoleKey] = role;
                return next(connection);
            });
        }

        if (url.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenUnixSocket(url["unix:".Length..], Tag);
            return;
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new InvalidOperationException($"Listeners:{role} is not an http(s):// or unix: URL: '{url}'.");
        }
        var host = uri.Host.Trim('[', ']');
        if (host is "*" or "+" or "0.0.0.0" or "::")
        {
            kestrel.ListenAnyIP(uri.Port, Tag);
        }
        else if (host == "localhost")
        {
            kestrel.ListenLocalhost(uri.Port, Tag);
        }
        else if (IPAddress.TryParse(host, out var ip))
        {
            kestrel.Listen(ip, uri.Port, Tag);
        }
        else
        {
            throw new InvalidOperationException($"Listeners:{role} must name an IP address, localhost or *: '{url}'.");
        }
    }

    /// <summary>Serves these endpoints only on the listeners of <paramref name="roles"/>.</summary>
    public static TBuilder OnListeners<TBuilder>(this TBuilder builder, params ListenerRole[] roles)
        where TBuilder : IEndpointConventionBuilder
    {
        var metadata = new ListenerMetadata(roles);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }

    /// <summary>Served on every listener: liveness and readiness (load balancers probe the public ports).</summary>
    public static TBuilder OnEveryListener<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.OnListeners(ListenerRole.Public, ListenerRole.Internal, ListenerRole.Management);

    /// <summary>The role of the listener this request came in on; null when it came through none of them.</summary>
    public static ListenerRole? ListenerOf(this HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items is { } items
        && items.TryGetValue(RoleKey, out var role) && role is ListenerRole r
            ? r
            : null;

    /// <summary>
    /// After routing: a request whose endpoint is not served on its listener gets the 404 of an unknown route, before
    /// authentication or any other work. Endpoints without <see cref="ListenerMetadata"/> are public.
    /// </summary>
    public static IApplicationBuilder UseListenerGate(this IApplicationBuilder app)
    {
        var untagged = ParseRoles(app.ApplicationServices.GetRequiredService<IOptions<ListenerOptions>>().Value.Untagged);
        return app.Use((context, next) =>
        {
            // Routing's own answers (its 405 is a plain Endpoint, not a RouteEndpoint) are built from the candidates
            // ListenerMatcherPolicy left for this listener, so they already belong to it.
            if (context.GetEndpoint() is not RouteEndpoint endpoint)
            {
                return next(context);
            }
            var allowed = ListenerMetadata.RolesOf(endpoint);
            var served = context.ListenerOf() is { } role ? allowed.Contains(role) : allowed.Any(untagged.Contains);
            if (served)
            {
                return next(context);
            }
            context.SetEndpoint(null);
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
    }

    internal static HashSet<ListenerRole> ParseRoles(string? text) =>
        [.. (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => Enum.TryParse<ListenerRole>(r, ignoreCase: true, out var role)
                ? role
                : throw new InvalidOperationException($"Listeners:Untagged names an unknown role '{r}'."))];
}

/// <summary>The roles an endpoint is served on.</summary>
public sealed record ListenerMetadata(IReadOnlyList<ListenerRole> Roles)
{
    private static readonly ListenerRole[] PublicOnly = [ListenerRole.Public];

    /// <summary>The roles <paramref name="endpoint"/> is served on: its metadata's, else public only.</summary>
    public static IReadOnlyList<ListenerRole> RolesOf(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<ListenerMetadata>()?.Roles ?? PublicOnly;
}

/// <summary>This process's default layout, for start-up checks and logs.</summary>
public sealed record ListenerLayout(IReadOnlyDictionary<ListenerRole, string> Defaults);
