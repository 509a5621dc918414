using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.Options;

namespace Payments.BuildingBlocks.Hosting;

/// <summary>
/// Routing sees only the endpoints served on the request's listener. Without it, a path served on another listener
/// with another method reached routing's method check, which answered 405 and so revealed that the route exists
/// (the Vault's internal routes on its public port). Branching on the listener before the method check means such a
/// request finds no endpoint at all: 404, like any unknown path. <see cref="Listeners.UseListenerGate"/> stays
/// behind it as a second check.
/// </summary>
internal sealed class ListenerMatcherPolicy(IOptions<ListenerOptions> options) : MatcherPolicy, INodeBuilderPolicy
{
    // Before HttpMethodMatcherPolicy (-1000), which builds the 405 endpoints from whatever candidates remain.
    public override int Order => -2000;

    private readonly HashSet<ListenerRole> untagged = Listeners.ParseRoles(options.Value.Untagged);

    // Every node, marked endpoints or not: an unmarked endpoint is public, and must not be seen from the others.
    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => endpoints.Count > 0;

    public IReadOnlyList<PolicyNodeEdge> GetEdges(IReadOnlyList<Endpoint> endpoints)
    {
        var edges = new List<PolicyNodeEdge>();
        foreach (var role in Enum.GetValues<ListenerRole>())
        {
            edges.Add(new PolicyNodeEdge(role, endpoints.Where(e => ListenerMetadata.RolesOf(e).Contains(role)).ToList()));
        }
        // A request that came through none of the listeners (the in-memory test server) sees the Untagged roles.
        edges.Add(new PolicyNodeEdge(Untagged.Instance, endpoints.Where(e => ListenerMetadata.RolesOf(e).Any(untagged.Contains)).ToList()));
        return edges;
    }

    public PolicyJumpTable BuildJumpTable(int exitDestination, IReadOnlyList<PolicyJumpTableEdge> edges)
    {
        var byRole = new int[Enum.GetValues<ListenerRole>().Length];
        Array.Fill(byRole, exitDestination);
        var noListener = exitDestination;
        foreach (var edge in edges)
        {
            if (edge.State is ListenerRole role)
            {
                byRole[(int)role] = edge.Destination;
            }
            else
            {
                noListener = edge.Destination;
            }
        }
        return new JumpTable(byRole, noListener);
    }

    private sealed class Untagged
    {
        public static readonly Untagged Instance = new();
    }

    private sealed class JumpTable(int[] byRole, int noListener) : PolicyJumpTable
    {
        public override int GetDestination(HttpContext httpContext) =>
            httpContext.ListenerOf() is { } role ? byRole[(int)role] : noListener;
    }
}
