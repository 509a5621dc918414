using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Payments.BuildingBlocks.Http;

/// <summary>The gateway's strong ETags: the row version in quotes (<c>"7"</c>).</summary>
public static class EntityTags
{
    public static string For(long version) => "\"" + version.ToString(CultureInfo.InvariantCulture) + "\"";

    /// <summary>
    /// The condition an <c>If-Match</c> sets: null without the header or with <c>*</c>; else the versions its list
    /// names by our strong ETags (RFC 9110 §13.1.1: any one matching is enough). Weak tags and anything that is not one
    /// of our ETags name none, so a list of only those never matches (412).
    /// </summary>
    public static IfMatchCondition? IfMatch(HttpContext http)
    {
        // Several If-Match lines come joined by commas, which RFC 9110 makes the same as one list.
        var raw = http.Request.Headers.IfMatch.ToString().Trim();
        if (raw.Length == 0 || raw == "*")
        {
            return null;
        }
        var versions = new List<long>();
        foreach (var part in raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            // Strong comparison is octet by octet: "07" is not "7", so only the form For writes counts.
            if (part.Length > 2 && part[0] == '"' && part[^1] == '"' &&
                long.TryParse(part[1..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var v) && For(v) == part)
            {
                versions.Add(v);
            }
        }
        return new IfMatchCondition([.. versions]);
    }

    /// <summary>
    /// Whether an <c>If-None-Match</c> names <paramref name="version"/> (RFC 9110 §13.1.2): <c>*</c>, or one of its tags
    /// by weak comparison (a <c>W/</c> prefix is ignored). A GET it names answers 304, without the content.
    /// </summary>
    public static bool NoneMatchNames(HttpContext http, long version)
    {
        var raw = http.Request.Headers.IfNoneMatch.ToString().Trim();
        if (raw.Length == 0)
        {
            return false;
        }
        var tag = For(version);
        foreach (var part in raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "*" || (part.StartsWith("W/", StringComparison.Ordinal) ? part[2..] : part) == tag)
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>An <c>If-Match</c> list: it holds for a version one of its strong ETags names, and for no other.</summary>
public sealed class IfMatchCondition(long[] versions)
{
    /// <summary>The versions named (empty: the condition never holds).</summary>
    public long[] Versions { get; } = versions;

    public bool Matches(long version) => Array.IndexOf(Versions, version) >= 0;
}
