using Microsoft.AspNetCore.Http;

namespace Payments.BuildingBlocks.Http;

/// <summary>The query parameters a route defines, spelt as it defines them.</summary>
public static class QueryParameters
{
    public const string Unknown = "Unknown query parameter.";

    /// <summary>
    /// Adds an error for every parameter the route does not define, as an unknown body field is refused: a misspelt
    /// <c>statuses=DECLINED</c> answered the whole unfiltered list. Names are matched exactly (<c>Status</c> is not
    /// <c>status</c>), as body fields are.
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
