using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Payments.BuildingBlocks.Idempotency;

/// <summary>
/// RFC 8785 JSON Canonicalization Scheme: members sorted by UTF-16 code units, no insignificant whitespace,
/// minimal string escapes, numbers as ECMAScript prints them. Two bodies that mean the same JSON get the same bytes.
/// </summary>
public static class JsonCanonicalizer
{
    /// <summary>The canonical UTF-8 form, or null when <paramref name="json"/> is not one JSON value.</summary>
    public static byte[]? TryCanonicalize(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            using var doc = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed != json.Length && json[(int)reader.BytesConsumed..].Trim(" \t\r\n"u8).Length != 0)
            {
                return null;
            }
            var sb = new StringBuilder(json.Length);
            Write(doc.RootElement, sb);
            return Encoding.UTF8.GetBytes(sb.ToString());
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void Write(JsonElement e, StringBuilder sb)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                sb.Append('{');
                var first = true;
                foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }
                    first = false;
                    WriteString(p.Name, sb);
                    sb.Append(':');
                    Write(p.Value, sb);
                }
                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var firstItem = true;
                foreach (var item in e.EnumerateArray())
                {
                    if (!firstItem)
                    {
                        sb.Append(',');
                    }
                    firstItem = false;
                    Write(item, sb);
                }
                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(e.GetString()!, sb);
                break;
            case JsonValueKind.Number:
                sb.Append(FormatNumber(e.GetDouble()));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    private static void WriteString(string s, StringBuilder sb)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        sb.Append('"');
    }

    /// <summary>ECMAScript Number.prototype.toString of a double (RFC 8785 §3.2.2.3).</summary>
    internal static string FormatNumber(double d)
    {
        if (d == 0)
        {
            return "0";
        }
        if (double.IsNaN(d) || double.IsInfinity(d))
        {
            throw new JsonException("Not a JSON number.");
        }
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        var negative = r.StartsWith('-');
        if (negative)
        {
            r = r[1..];
        }
        var exp = 0;
        var ePos = r.IndexOfAny(['E', 'e']);
        if (ePos >= 0)
        {
            exp = int.Parse(r[(ePos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..ePos];
        }
        var dot = r.IndexOf('.', StringComparison.Ordinal);
        var intLen = dot < 0 ? r.Length : dot;
        var digits = r.Replace(".", "", StringComparison.Ordinal);
        var n = intLen + exp; // value = 0.digits × 10^n
        var lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
        }
        digits = digits[lead..];
        n -= lead;
        digits = digits.TrimEnd('0');
        var k = digits.Length;

        var sb = new StringBuilder();
        if (negative)
        {
            sb.Append('-');
        }
        if (k <= n && n <= 21)
        {
            sb.Append(digits).Append('0', n - k);
        }
        else if (0 < n && n <= 21)
        {
            sb.Append(digits, 0, n).Append('.').Append(digits, n, k - n);
        }
        else if (-6 < n && n <= 0)
        {
            sb.Append("0.").Append('0', -n).Append(digits);
        }
        else
        {
            var e = n - 1;
            sb.Append(digits[0]);
            if (k > 1)
            {
                sb.Append('.').Append(digits, 1, k - 1);
            }
            sb.Append('e').Append(e >= 0 ? '+' : '-').Append(Math.Abs(e).ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
