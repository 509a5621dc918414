using System.Globalization;
using System.Net;
using System.Text;

namespace Payments.Perf.Report;

/// <summary>Small, script-free SVG line charts for the HTML report.</summary>
internal static class Svg
{
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points);

    /// <summary>
    /// A line chart. <paramref name="xTicks"/> names positions on the x axis (for the percentile axis, whose positions
    /// are -log10(1 - p)); without them the x axis is linear with five ticks.
    /// </summary>
    public static string LineChart(string title, IReadOnlyList<Series> series, string xLabel, string yLabel,
        IReadOnlyList<(double X, string Label)>? xTicks = null, IReadOnlyList<(double From, double To, string Label)>? bands = null)
    {
        const double W = 720, H = 300, L = 64, R = 150, T = 30, B = 44;
        var pts = series.SelectMany(s => s.Points).ToList();
        var sb = new StringBuilder();
        sb.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">"));
        sb.Append(Inv($"<text x=\"{W / 2}\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{E(title)}</text>"));
        if (pts.Count == 0)
        {
            sb.Append(Inv($"<text x=\"{W / 2}\" y=\"{H / 2}\" text-anchor=\"middle\">no data</text></svg>"));
            return sb.ToString();
        }
        var x0 = xTicks?.Min(t => t.X) ?? pts.Min(p => p.X);
        var x1 = Math.Max(xTicks?.Max(t => t.X) ?? double.MinValue, pts.Max(p => p.X));
        if (x1 <= x0)
        {
            x1 = x0 + 1;
        }
        var y1 = Nice(pts.Max(p => p.Y));
        double Px(double x) => L + (x - x0) / (x1 - x0) * (W - L - R);
        double Py(double y) => H - B - y / y1 * (H - T - B);

        foreach (var (from, to, label) in bands ?? [])
        {
            sb.Append(Inv($"<rect x=\"{Px(from):0.#}\" y=\"{T}\" width=\"{Math.Max(1, Px(to) - Px(from)):0.#}\" height=\"{H - T - B}\" fill=\"#f2f2f2\"/>"));
            sb.Append(Inv($"<text x=\"{Px(from) + 2:0.#}\" y=\"{T + 10}\" font-size=\"9\" fill=\"#777\">{E(label)}</text>"));
        }
        // Axes and grid.
        for (var i = 0; i <= 4; i++)
        {
            var y = y1 * i / 4;
            sb.Append(Inv($"<line x1=\"{L}\" x2=\"{W - R}\" y1=\"{Py(y):0.#}\" y2=\"{Py(y):0.#}\" stroke=\"#ddd\"/>"));
            sb.Append(Inv($"<text x=\"{L - 6}\" y=\"{Py(y) + 4:0.#}\" text-anchor=\"end\">{Fmt(y)}</text>"));
        }
        var ticks = xTicks ?? Enumerable.Range(0, 5).Select(i => (x0 + (x1 - x0) * i / 4, Fmt(x0 + (x1 - x0) * i / 4))).ToList();
        foreach (var (x, label) in ticks)
        {
            sb.Append(Inv($"<line x1=\"{Px(x):0.#}\" x2=\"{Px(x):0.#}\" y1=\"{T}\" y2=\"{H - B}\" stroke=\"#eee\"/>"));
            sb.Append(Inv($"<text x=\"{Px(x):0.#}\" y=\"{H - B + 14}\" text-anchor=\"middle\">{E(label)}</text>"));
        }
        sb.Append(Inv($"<line x1=\"{L}\" x2=\"{W - R}\" y1=\"{H - B}\" y2=\"{H - B}\" stroke=\"#333\"/><line x1=\"{L}\" x2=\"{L}\" y1=\"{T}\" y2=\"{H - B}\" stroke=\"#333\"/>"));
        sb.Append(Inv($"<text x=\"{(L + W - R) / 2}\" y=\"{H - 8}\" text-anchor=\"middle\">{E(xLabel)}</text>"));
        sb.Append(Inv($"<text x=\"14\" y=\"{(T + H - B) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {(T + H - B) / 2})\">{E(yLabel)}</text>"));
        for (var i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var color = Colors[i % Colors.Length];
            if (s.Points.Count > 0)
            {
                var d = string.Join(" ", s.Points.Select((p, j) => Inv($"{(j == 0 ? "M" : "L")}{Px(p.X):0.#},{Py(p.Y):0.#}")));
                sb.Append(Inv($"<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"/>"));
            }
            sb.Append(Inv($"<rect x=\"{W - R + 10}\" y=\"{T + i * 16}\" width=\"10\" height=\"10\" fill=\"{color}\"/>"));
            sb.Append(Inv($"<text x=\"{W - R + 24}\" y=\"{T + i * 16 + 9}\">{E(s.Name)}</text>"));
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>Position of a percentile on a "number of nines" axis: p90 → 1, p99 → 2, p99.9 → 3.</summary>
    public static double Nines(double percentile) => -Math.Log10(Math.Max(1e-5, 1 - percentile / 100));

    public static readonly IReadOnlyList<(double X, string Label)> PercentileTicks =
        [(0, "p0"), (Nines(50), "p50"), (1, "p90"), (2, "p99"), (3, "p99.9"), (4, "p99.99"), (5, "max")];

    private static double Nice(double max)
    {
        if (max <= 0)
        {
            return 1;
        }
        var mag = Math.Pow(10, Math.Floor(Math.Log10(max)));
        foreach (var m in new[] { 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 })
        {
            if (m * mag >= max)
            {
                return m * mag;
            }
        }
        return 10 * mag;
    }

    private static string Fmt(double v) => v >= 100 ? v.ToString("0", CultureInfo.InvariantCulture) : v.ToString("0.##", CultureInfo.InvariantCulture);

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
