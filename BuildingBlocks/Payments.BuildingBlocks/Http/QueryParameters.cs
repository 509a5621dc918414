using Microsoft.AspNetCore.Http;

namespace Payments.BuildingBlocks.Http;

/// <summary>
/// Endpoint metadata: the query parameters a merchant route defines, spelt as it defines them. A merchant route without
/// it takes none. The Host refuses every other parameter before the route runs (GatewayPipeline).
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class QueryParametersAttribute(params string[] names) : Attribute
{
    public IReadOnlyList<string> Names { get; } = names;
}

/// <summary>The query parameters a route defines, spelt as it defines them.</summary>
public static class QueryParameters
{
    public const string Unknown = "Unknown query parameter.";

    /// <summary>
    /// Adds an error for every parameter the route does not define, as an unknown body field is refused: a misspelt
    /// <c>statuses=DECLINED</c> answered the whole unfiltered list, and <c>?dry_run=true</c> on settle settled. Names
    /// are matched exactly (<c>Status</c> is not <c>status</c>), as body fields are.
    /// </summary>
    public static void RefuseUnknown(IQueryCollection query, IReadOnlyCollection<string> known, Dictionary<string, string[]> errors)
    {
        foreach (var name in query.Keys)
        {
            if (!known.Contains(name, StringComparer.Ordinal))
            {
                errors.TryAdd(Problems.EchoableName(name, "query"), [Unknown]);
            }
        }
    }
}
