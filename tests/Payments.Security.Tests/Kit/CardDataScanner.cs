using System.Text;
using System.Text.RegularExpressions;
using Payments.BuildingBlocks.CardData;
using StackExchange.Redis;

namespace Payments.Security.Tests.Kit;

/// <summary>Where card data was found, never the data itself: the context shows the digits masked but the last four.</summary>
internal sealed record LeakFinding(string Source, string Where, string Kind, string Context)
{
    public override string ToString() => $"{Source} [{Where}] {Kind}: …{Context}…";
}

/// <summary>
/// Looks for card data in text: any Luhn-valid run of 13–19 digits (the gateway's own <see cref="CardNumberDetector"/>),
/// the exact card numbers the suites used (also hex-encoded, as a bytea column would show them), and the CVCs the
/// suites used. A digit run glued to a letter is part of a hex digest or an identifier, not a card number typed by
/// anyone, and is left out of the generic check (the exact-number check still sees it).
/// </summary>
internal sealed partial class CardDataScanner(IEnumerable<string> knownPans, IEnumerable<string> knownCvcs)
{
    private readonly string[] pans = knownPans.Distinct().ToArray();
    private readonly Regex[] cvcs = knownCvcs.Distinct()
        .Select(c => new Regex(@"(?<![\w.:+-])" + Regex.Escape(c) + @"(?![\w.:-])", RegexOptions.CultureInvariant))
        .ToArray();

    [GeneratedRegex(@"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", RegexOptions.CultureInvariant)]
    private static partial Regex Uuid();

    // The gateway's own trace and span ids in a log line: random hex it generated, written as they are (ADR 118). One
    // span id in two thousand is sixteen decimal digits, and a tenth of those pass Luhn; none is input.
    [GeneratedRegex(@"(?<=""(?:trace_id|span_id)"":"")(?:[0-9a-f]{32}|[0-9a-f]{16})(?="")", RegexOptions.CultureInvariant)]
    private static partial Regex TraceIds();

    public List<LeakFinding> Findings { get; } = [];

    public void ScanText(string source, string where, string? text, bool cvcsToo = true, bool anyLuhnRun = true)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }
        foreach (var pan in pans)
        {
            var hex = Convert.ToHexString(Encoding.ASCII.GetBytes(pan));
            foreach (var needle in new[] { pan, hex, hex.ToLowerInvariant() }.Distinct())
            {
                var at = text.IndexOf(needle, StringComparison.Ordinal);
                if (at >= 0)
                {
                    Findings.Add(new LeakFinding(source, where, needle == pan ? "card number used by the suites" : "card number used by the suites, hex-encoded", Context(text, at, needle.Length)));
                }
            }
        }
        // UUIDs are blanked (same length) so their digit groups are not read as one long run.
        var cleaned = TraceIds().Replace(Uuid().Replace(text, m => new string('u', m.Length)), m => new string('t', m.Length));
        foreach (var (index, length) in anyLuhnRun ? CardNumberDetector.FindCardNumbers(cleaned) : [])
        {
            // A run of one repeated digit (an all-zero genesis hash) passes Luhn but is no card number.
            if (cleaned.Substring(index, length).Where(char.IsAsciiDigit).Distinct().Count() == 1)
            {
                continue;
            }
            var (start, end) = MaximalRun(cleaned, index, index + length);
            if ((start > 0 && char.IsAsciiLetter(cleaned[start - 1])) || (end < cleaned.Length && char.IsAsciiLetter(cleaned[end])))
            {
                continue;
            }
            Findings.Add(new LeakFinding(source, where, "Luhn-valid 13–19 digit run", Context(text, index, length)));
        }
        if (cvcsToo)
        {
            foreach (var cvc in cvcs)
            {
                var m = cvc.Match(text);
                if (m.Success)
                {
                    Findings.Add(new LeakFinding(source, where, "CVC used by the suites", Context(text, m.Index, m.Length)));
                }
            }
        }
    }

    public async Task ScanDatabaseAsync(string source, string connectionString, bool cvcsToo = true)
    {
        await foreach (var (table, row) in DatabaseSnapshot.RowsAsync(connectionString))
        {
            ScanText(source, table, row, cvcsToo);
        }
    }

    /// <summary>Every key of the Redis server and every value under it, whatever its type.</summary>
    public async Task<int> ScanRedisAsync(string endpoint)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync($"{endpoint},allowAdmin=true,abortConnect=false");
        var db = mux.GetDatabase();
        var keys = 0;
        foreach (var server in mux.GetServers())
        {
            await foreach (var key in server.KeysAsync(pageSize: 500))
            {
                keys++;
                var name = Encoding.Latin1.GetString((byte[])key!);
                ScanText("redis", "key", name);
                var type = await db.KeyTypeAsync(key);
                var values = type switch
                {
                    RedisType.String => [(await db.StringGetAsync(key))],
                    RedisType.Hash => (await db.HashGetAllAsync(key)).SelectMany(e => new[] { e.Name, e.Value }).ToArray(),
                    RedisType.List => await db.ListRangeAsync(key),
                    RedisType.Set => await db.SetMembersAsync(key),
                    RedisType.SortedSet => await db.SortedSetRangeByRankAsync(key),
                    RedisType.Stream => (await db.StreamRangeAsync(key)).SelectMany(e => e.Values.SelectMany(v => new[] { v.Name, v.Value })).ToArray(),
                    _ => Array.Empty<RedisValue>(),
                };
                foreach (var value in values)
                {
                    if (!value.IsNull)
                    {
                        ScanText("redis", $"value of {Mask(name)}", Encoding.Latin1.GetString((byte[])value!));
                    }
                }
            }
        }
        return keys;
    }

    private static (int Start, int End) MaximalRun(string text, int start, int end)
    {
        while (start > 0 && (char.IsAsciiDigit(text[start - 1]) || (text[start - 1] is ' ' or '-' && start > 1 && char.IsAsciiDigit(text[start - 2]))))
        {
            start--;
        }
        while (end < text.Length && (char.IsAsciiDigit(text[end]) || (text[end] is ' ' or '-' && end + 1 < text.Length && char.IsAsciiDigit(text[end + 1]))))
        {
            end++;
        }
        return (start, end);
    }

    private static string Context(string text, int index, int length)
    {
        var from = Math.Max(0, index - 40);
        var to = Math.Min(text.Length, index + length + 40);
        var sb = new StringBuilder(text[from..index]);
        var span = text.Substring(index, length);
        var digitsSeen = span.Count(char.IsAsciiDigit);
        var kept = 0;
        foreach (var c in span)
        {
            if (char.IsAsciiDigit(c) && kept++ < digitsSeen - 4)
            {
                sb.Append('#');
            }
            else
            {
                sb.Append(c);
            }
        }
        sb.Append(text, index + length, to - index - length);
        return sb.ToString().ReplaceLineEndings(" ");
    }

    private static string Mask(string s) => s.Length <= 96 ? s : s[..96];
}
