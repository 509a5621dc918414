using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Payments.BuildingBlocks.Http;

/// <summary>The gateway's strong ETags: the row version in quotes (<c>"7"</c>).</summary>
public static class EntityTags
{
    public static string For(long version) => "\"" + version.ToString(CultureInfo.InvariantCulture) + "\"";

    /// <summary>
    /// The version an <c>If-Match</c> asks for: null without the header or with <c>*</c>; -1 (never matches, so 412)
    /// when it is not one of our strong ETags.
    /// </summary>
    public static long? IfMatchVersion(HttpContext http)
    {
        var raw = http.Request.Headers.IfMatch.ToString().Trim();
        if (raw.Length == 0 || raw == "*")
        {
            return null;
        }
        foreach (var part in raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Length > 2 && part[0] == '"' && part[^1] == '"' &&
                long.TryParse(part[1..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            {
                return v;
            }
        }
        return -1;
    }
}
