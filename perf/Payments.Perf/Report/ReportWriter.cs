using System.Globalization;
using System.Net;
using System.Text;
using Payments.Perf.Data;
using Payments.Perf.Measure;
using Payments.Perf.Scenarios;

namespace Payments.Perf.Report;

/// <summary>Writes summary.md and report.html (tables plus inline SVG plots) into the run's output folder.</summary>
internal static class ReportWriter
{
    /// <summary>CPU-seconds the gateway's processes spent per completed iteration of a phase, from the /proc samples.</summary>
    internal static double? CpuPerIteration(SuiteResult r, PhaseRecord p)
    {
        var done = p.Stats.Iteration?.Ok ?? 0;
        if (done == 0)
        {
            return null;
        }
        var seconds = p.EndSecond - p.StartSecond;
        var cpuPercent = r.Resources.Where(x => x.Name != "load generator")
            .Sum(x => x.Samples.Where(q => q.T >= p.StartSecond && q.T <= p.EndSecond).Select(q => q.Cpu).DefaultIfEmpty(0).Average());
        return cpuPercent / 100 * seconds / done;
    }

    private static readonly double[] Percentiles = [50, 90, 99, 99.9];

    public static void Write(SuiteResult r)
    {
        var blocks = Build(r);
        var md = new StringBuilder();
        var html = new StringBuilder();
        html.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Load suite report</title><style>")
            .Append("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}")
            .Append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}")
            .Append(".ok{color:#1a7f37;font-weight:bold}.bad{color:#c62828;font-weight:bold}svg{margin:.3em 0 1em}</style></head><body>");
        foreach (var b in blocks)
        {
            switch (b)
            {
                case Heading h:
                    md.Append('#', h.Level).Append(' ').AppendLine(h.Text).AppendLine();
                    html.Append(Inv($"<h{h.Level}>{E(h.Text)}</h{h.Level}>"));
                    break;
                case Para p:
                    md.AppendLine(p.Text).AppendLine();
                    html.Append("<p>").Append(E(p.Text)).Append("</p>");
                    break;
                case Table t:
                    md.Append("| ").AppendJoin(" | ", t.Header).AppendLine(" |");
                    md.Append('|').AppendJoin('|', t.Header.Select((_, i) => i == 0 ? "---" : "---:")).AppendLine("|");
                    foreach (var row in t.Rows)
                    {
                        md.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
                    }
                    md.AppendLine();
                    html.Append("<table><tr>").AppendJoin("", t.Header.Select(h => $"<th>{E(h)}</th>")).Append("</tr>");
                    foreach (var row in t.Rows)
                    {
                        html.Append("<tr>").AppendJoin("", row.Select(c => $"<td{Cls(c)}>{E(c)}</td>")).Append("</tr>");
                    }
                    html.Append("</table>");
                    break;
                case Plot pl:
                    html.Append(pl.Svg);
                    break;
            }
        }
        html.Append("</body></html>");
        r.MarkdownPath = Path.GetFullPath(Path.Combine(r.Options.OutputDirectory, "summary.md"));
        r.HtmlPath = Path.GetFullPath(Path.Combine(r.Options.OutputDirectory, "report.html"));
        File.WriteAllText(r.MarkdownPath, md.ToString());
        File.WriteAllText(r.HtmlPath, html.ToString());
    }

    private abstract record Block;

    private sealed record Heading(int Level, string Text) : Block;

    private sealed record Para(string Text) : Block;

    private sealed record Table(string[] Header, List<string[]> Rows) : Block;

    private sealed record Plot(string Svg) : Block;

    private static List<Block> Build(SuiteResult r)
    {
        var o = r.Options;
        var c = r.Ceilings;
        var blocks = new List<Block>
        {
            new Heading(1, "Load suite report" + (o.Smoke ? " (smoke)" : "")),
            new Para($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.MachineName}: {Environment.ProcessorCount} cores, {MemTotalGb():0.#} GB; " +
                     $"{o.HostCount} Host process(es) (admission: {o.Admission.MaxConcurrent} at once, {o.Admission.QueueLimit} queued for up to {o.Admission.QueueTimeout.TotalMilliseconds:0} ms, at most {o.Admission.OverloadQueueLimit} for {o.Admission.OverloadQueueTimeout.TotalMilliseconds:0} ms after a refusal), Release build, " +
                     "PostgreSQL 15 with fsync and synchronous_commit on, Redis, all on loopback " +
                     "and sharing the cores with the load generator. Latency of open-model phases runs from each iteration's scheduled start."),
        };

        // Targets (issue 8), as ratios to the ceilings measured in this run.
        blocks.Add(new Heading(2, "Targets"));
        var targets = new Table(["Target", "Measured", "Bound", "Met"], []);
        var half = r.Find("pair", "half-max");
        var hostMem = r.Resources.FirstOrDefault(s => s.Name == "Host")?.MaxRssMb ?? 0;
        var listLat = r.Find("list", "latency");
        if (c is not null && r.MaxPairsPerSecond > 0)
        {
            var ratio = r.MaxPairsPerSecond / c.PgbenchPairTps;
            targets.Rows.Add(["pairs/s vs pgbench pair ceiling", $"{r.MaxPairsPerSecond:0} /s = {ratio:P0} of {c.PgbenchPairTps:0}", "≥ 50%", Met(ratio >= 0.5)]);
        }
        if (half is not null)
        {
            var it = half.Stats.Iteration!;
            targets.Rows.Add([$"pair p99 at half max ({half.Stats.TargetRate:0}/s, open)", $"{it.PercentileMs(99):0.0} ms, {it.Failed} errors",
                $"< {o.P99BoundMs} ms, 0 errors", Met(it.PercentileMs(99) < o.P99BoundMs && it.Failed == 0)]);
        }
        targets.Rows.Add(["Host memory (max RSS)", $"{hostMem:0} MB", "< 300 MB", Met(hostMem is > 0 and < 300)]);
        if (listLat is not null)
        {
            var it = listLat.Stats.Iteration!;
            var note = r.Notes.FirstOrDefault(n => n.StartsWith("list:", StringComparison.Ordinal)) ?? "";
            targets.Rows.Add([$"list p99 ({listLat.Stats.TargetRate:0}/s, open) {(note.Contains("1,000,000", StringComparison.Ordinal) ? "with 1,000,000 rows" : "(fewer rows than the target's million)")}",
                $"{it.PercentileMs(99):0.0} ms, {it.Failed} errors", "< 20 ms", Met(it.PercentileMs(99) < 20 && it.Failed == 0)]);
        }
        blocks.Add(targets);

        if (c is not null)
        {
            blocks.Add(new Heading(2, "Reference ceilings (same run)"));
            var t = new Table(["Reference", "Rate", "Gateway", "Ratio"], []);
            var authcap = r.Find("authcap", "max");
            t.Rows.Add(["pgbench: authorize INSERT", $"{c.PgbenchAuthorizeTps:0} tps", authcap is null ? "-" : $"authcap {authcap.Stats.Throughput:0} /s", authcap is null ? "-" : $"{authcap.Stats.Throughput / c.PgbenchAuthorizeTps:P0}"]);
            t.Rows.Add(["pgbench: pair (INSERT; UPDATE + history INSERT)", $"{c.PgbenchPairTps:0} pairs/s", r.MaxPairsPerSecond > 0 ? $"pairs {r.MaxPairsPerSecond:0} /s" : "-", r.MaxPairsPerSecond > 0 ? $"{r.MaxPairsPerSecond / c.PgbenchPairTps:P0}" : "-"]);
            if (c.PgbenchGatewaySqlTps > 0)
            {
                t.Rows.Add(["pgbench: the Host's own pair SQL (claims, change, history, outbox, answers; real tables and triggers)",
                    $"{c.PgbenchGatewaySqlTps:0} pairs/s = {c.PgbenchGatewaySqlTps / c.PgbenchPairTps:P0} of the pair", r.MaxPairsPerSecond > 0 ? $"pairs {r.MaxPairsPerSecond:0} /s" : "-",
                    r.MaxPairsPerSecond > 0 ? $"{r.MaxPairsPerSecond / c.PgbenchGatewaySqlTps:P0}" : "-"]);
            }
            var pairMax = r.Find("pair", "max");
            var httpRps = pairMax is null ? 0 : pairMax.Stats.Steps.Where(s => s.Name != pairMax.Stats.IterationStep).Sum(s => s.Requests) / pairMax.Stats.Seconds;
            t.Rows.Add(["Kestrel plaintext (built-in endpoint)", $"{c.PlaintextRps:0} req/s", httpRps > 0 ? $"pair HTTP calls {httpRps:0} req/s" : "-", httpRps > 0 ? $"{httpRps / c.PlaintextRps:P0}" : "-"]);
            blocks.Add(t);
            blocks.Add(new Para($"pgbench: {c.PgbenchNote}, copies of the real transactions and history tables (LIKE … INCLUDING ALL, schema perf_ref, dropped after). " +
                                $"Kestrel plaintext: {o.PlaintextClients} keep-alive clients in this process."));
        }

        if (r.Skipped.Count > 0 || r.Notes.Count > 0)
        {
            blocks.Add(new Heading(2, "Notes"));
            foreach (var (name, why) in r.Skipped)
            {
                blocks.Add(new Para($"{name}: {why}"));
            }
            foreach (var n in r.Notes)
            {
                blocks.Add(new Para(n));
            }
        }

        if (r.Ramp is { } ramp)
        {
            blocks.Add(new Heading(2, $"Rate ramp (pair): sustained {ramp.SustainedRate:0}/s within p99 {ramp.LatencyBoundMs} ms"));
            blocks.Add(new Para("Stopped: " + ramp.StopReason));
            var t = new Table(["Arrival rate", "Completed/s", "p50 ms", "p99 ms", "max ms", "Errors"], []);
            foreach (var s in ramp.Steps)
            {
                var it = s.Iteration!;
                t.Rows.Add([$"{s.TargetRate:0}/s", $"{s.Throughput:0.0}", $"{it.PercentileMs(50):0.00}", $"{it.PercentileMs(99):0.00}", $"{it.MaxMs:0.0}", $"{it.Failed}"]);
            }
            blocks.Add(t);
            blocks.Add(new Plot(Svg.LineChart("Ramp: p99 by arrival rate",
                [new Svg.Series("pair p99 (ms)", ramp.Steps.Select(s => (s.TargetRate, s.Iteration!.PercentileMs(99))).ToList()),
                 new Svg.Series("bound", ramp.Steps.Select(s => (s.TargetRate, ramp.LatencyBoundMs)).ToList())],
                "arrival rate (pairs/s)", "ms")));
        }

        if (r.Overload is { } ov)
        {
            blocks.AddRange(OverloadBlocks(ov));
        }

        blocks.Add(new Heading(2, "Phases"));
        foreach (var p in r.Phases.Where(p => p.Purpose != "ramp"))
        {
            var s = p.Stats;
            blocks.Add(new Heading(3, $"{s.Scenario}: {s.Model} ({p.Purpose}), {s.Seconds:0.0} s, {s.Throughput:0.0} {s.IterationStep}/s"));
            var t = new Table(["Step", "Requests", "OK", "Errors", "Throughput/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"], []);
            foreach (var st in s.Steps)
            {
                t.Rows.Add([st.Name, $"{st.Requests}", $"{st.Ok}", $"{st.Failed}", $"{st.Ok / Math.Max(0.001, s.Seconds):0.0}",
                    .. Percentiles.Select(q => $"{st.PercentileMs(q):0.00}"), $"{st.MaxMs:0.00}"]);
            }
            blocks.Add(t);
            if (p.ServerSide.Any(st => !st.Exceptions))
            {
                // The same phase seen from inside: the processes' own histograms (bucketed, so p50/p99 are interpolated).
                var server = new Table(["Server side", "Step", "Count", "mean ms", "p50 ms", "p99 ms"], []);
                foreach (var st in p.ServerSide.Where(st => !st.Exceptions))
                {
                    server.Rows.Add([st.Process, st.Step, $"{st.Count:0}", $"{st.MeanMs:0.00}", $"{st.P50Ms:0.00}", $"{st.P99Ms:0.00}"]);
                }
                blocks.Add(server);
            }
            if (p.ServerSide.Count > 0 && s.Iteration is { Ok: > 0 } done)
            {
                // The runtime's own count (issue 17, How 8: no exceptions on the hot path).
                var thrown = p.ServerSide.Where(st => st.Exceptions).ToList();
                blocks.Add(new Para("Exceptions thrown in the phase (Host and Vault): " + (thrown.Count == 0
                    ? "none."
                    : string.Join("; ", thrown.Select(st => $"{st.Process} {st.Step} ×{st.Count:0} ({st.Count / done.Ok:0.000} per {s.IterationStep})")) + ".")));
            }
            if (CpuPerIteration(r, p) is { } cpu)
            {
                blocks.Add(new Para($"CPU per {s.IterationStep}: {cpu * 1000:0.00} ms (Host, Vault, PostgreSQL and Redis together; load generator excluded)."));
            }
            var errors = s.Steps.Where(st => st.Name != s.IterationStep).SelectMany(st => st.Errors.Select(e => $"{st.Name} {e.Key} ×{e.Value}")).ToList();
            if (errors.Count > 0)
            {
                blocks.Add(new Para("Errors by status:code: " + string.Join("; ", errors)));
            }
            blocks.Add(new Plot(Svg.LineChart($"{s.Scenario} ({s.Model}): latency by percentile",
                s.Steps.Select(st => new Svg.Series(st.Name, st.PercentileCurve().Select(q => (Svg.Nines(q.Percentile), q.Ms)).ToList())).ToList(),
                "percentile", "ms", Svg.PercentileTicks)));
            blocks.Add(new Plot(Svg.LineChart($"{s.Scenario} ({s.Model}): throughput over time",
                s.Steps.Select(st => new Svg.Series(st.Name, st.Timeline.Select(x => ((double)x.Second, (double)x.Count)).ToList())).ToList(),
                "second of the phase", "completed/s")));
        }

        blocks.Add(new Heading(2, "Resources (whole run, sampled every second from /proc)"));
        var res = new Table(["Process", "avg CPU % of one core", "max CPU %", "max RSS MB"], []);
        foreach (var s in r.Resources)
        {
            res.Rows.Add([s.Name, $"{s.AvgCpu:0}", $"{s.MaxCpu:0}", $"{s.MaxRssMb:0}"]);
        }
        blocks.Add(res);
        // Per phase: which process had the cores while the load ran (2 cores = 200%).
        var byPhase = new Table(["Phase", .. r.Resources.Select(x => x.Name + " CPU %"), "total CPU %"], []);
        foreach (var p in r.Phases.Where(p => p.Purpose != "ramp"))
        {
            var cpus = r.Resources.Select(x => x.Samples.Where(q => q.T >= p.StartSecond && q.T <= p.EndSecond).Select(q => q.Cpu).DefaultIfEmpty(0).Average()).ToList();
            byPhase.Rows.Add([$"{p.Stats.Scenario} {p.Stats.Model}", .. cpus.Select(c => $"{c:0}"), $"{cpus.Sum():0}"]);
        }
        blocks.Add(new Para("Average CPU by phase (% of one core; the machine has " + Environment.ProcessorCount + " cores):"));
        blocks.Add(byPhase);
        var bands = r.Phases.Where(p => p.Purpose != "ramp").Select(p => (p.StartSecond, p.EndSecond, p.Stats.Scenario)).ToList();
        blocks.Add(new Plot(Svg.LineChart("CPU (% of one core)", r.Resources.Select(s => new Svg.Series(s.Name, s.Samples.Select(x => (x.T, x.Cpu)).ToList())).ToList(),
            "second of the run", "CPU %", bands: bands)));
        blocks.Add(new Plot(Svg.LineChart("Resident memory (MB)", r.Resources.Select(s => new Svg.Series(s.Name, s.Samples.Select(x => (x.T, x.RssMb)).ToList())).ToList(),
            "second of the run", "MB", bands: bands)));

        if (r.Sql.Count > 0)
        {
            var measured = r.Phases.Where(p => p.Purpose != "reference").ToList();
            var requests = measured.Sum(p => p.Stats.Steps.Where(s => s.Name != p.Stats.IterationStep).Sum(s => s.Requests));
            var calls = r.Sql.Sum(s => s.Calls);
            var totalMs = r.Sql.Sum(s => s.TotalMs);
            blocks.Add(new Heading(2, "Where PostgreSQL's time goes (pg_stat_statements, measured phases)"));
            blocks.Add(new Para($"{calls} statements, {totalMs / 1000:0.0} s of execution for {requests} HTTP requests measured " +
                                $"(≈ {(requests == 0 ? 0 : (double)calls / requests):0.0} statements per request, warm-ups and background work included). " +
                                "Execution time excludes parse, network and commit (fsync) waits."));
            var t = new Table(["Database", "Calls", "Total ms", "Mean ms", "Rows", "Statement"], []);
            foreach (var s in r.Sql.Take(20))
            {
                t.Rows.Add([s.Database, $"{s.Calls}", $"{s.TotalMs:0}", $"{s.MeanMs:0.000}", $"{s.Rows}", s.Query.Length > 160 ? s.Query[..160] + "…" : s.Query]);
            }
            blocks.Add(t);
        }

        blocks.Add(new Heading(2, "Invariants (Host database, after the run)"));
        if (r.Invariants is { } inv)
        {
            blocks.Add(new Para(inv.Holds
                ? $"HOLD: {inv.Payments} acknowledged payments, {inv.Captures} captures, {inv.Voids} voids, {inv.Refunds} refunds checked in {inv.Schema}; no amount over its bound."
                : "VIOLATED: " + string.Join("; ", inv.Violations)));
        }
        return blocks;
    }

    private static string Met(bool ok) => ok ? "yes" : "NO";

    /// <summary>Issue 18's bounds: admitted latency, fast refusals, only 2xx/429/503, recovery, merchant isolation, exactly once.</summary>
    private static IEnumerable<Block> OverloadBlocks(OverloadResult ov)
    {
        yield return new Heading(2, "Overload (admission control and per-merchant limits)");
        var t = new Table(["Check", "Measured", "Bound", "Met"], []);
        var baseP99 = ov.Baseline.AdmittedPairP99Ms;
        var overP99 = ov.Overload.AdmittedPairP99Ms;
        t.Rows.Add([$"admitted pair p99 at {ov.Overload.Rate:0}/s (twice the max) vs at {ov.Baseline.Rate:0}/s",
            Inv($"{overP99:0.0} ms vs {baseP99:0.0} ms ({ov.Overload.AdmittedPairCount} admitted pairs)"), "≤ 3×", Met(overP99 <= 3 * baseP99 && ov.Overload.AdmittedPairCount > 0)]);
        t.Rows.Add(["refusal p99 (429/503)", Inv($"{ov.Overload.RefusalP99Ms:0.0} ms ({ov.Overload.Refused} refused)"), "≤ 20 ms", Met(ov.Overload.RefusalP99Ms <= 20)]);
        var others = ov.Overload.Others.Concat(ov.Recovery.Others).Concat(ov.Baseline.Others).ToList();
        t.Rows.Add(["answers other than 2xx, 429, 503 (timeouts included)", others.Count == 0 ? "0" : string.Join("; ", others.Select(kv => $"{kv.Key}×{kv.Value}")),
            "0", Met(others.Count == 0)]);
        var recovered = ov.Recovery.AdmittedP99From(5);
        t.Rows.Add(["pair p99 from 5 s after the overload stopped", Inv($"{recovered:0.0} ms vs baseline {baseP99:0.0} ms"), "≤ 1.5× baseline",
            Met(recovered > 0 && recovered <= 1.5 * Math.Max(baseP99, 1))]);
        if (ov.FloodRuns.Count > 0)
        {
            var ratios = ov.FloodRuns.Select(f => f.WithFlood.AdmittedPairP99Ms / Math.Max(0.001, f.Alone.AdmittedPairP99Ms)).Order().ToList();
            var median = ratios[ratios.Count / 2];
            var victimRefused = ov.FloodRuns.Sum(f => f.WithFlood.Refused + f.Alone.Refused);
            var floodRefused = ov.FloodRuns.Sum(f => f.FloodRefused);
            t.Rows.Add([$"victim p99 with a merchant flooding at 10× its limit ({OverloadPhase.FloodLimitRps}/s), median of {ratios.Count}",
                Inv($"{median:0.00}× (runs: {string.Join(", ", ov.FloodRuns.Select(f => $"{f.Alone.AdmittedPairP99Ms:0.0}→{f.WithFlood.AdmittedPairP99Ms:0.0} ms"))})"), "≤ 2×", Met(median <= 2)]);
            var victimLimited = ov.FloodRuns.Sum(f => f.WithFlood.RateLimited + f.Alone.RateLimited);
            t.Rows.Add(["the flood got 429s; the victim got no refusal", $"{floodRefused} / {victimRefused} ({victimLimited} of them 429)", "> 0 / 0",
                Met(floodRefused > 0 && victimRefused == 0)]);
        }
        t.Rows.Add(["refused calls retried with their key until admitted", $"{ov.RefusedThenRetried} retried, {ov.RetriesExhausted} gave up", "0 gave up", Met(ov.RetriesExhausted == 0)]);
        t.Rows.Add(["pairs booked exactly once (database)", $"{ov.Booked} booked of {ov.Authorized} authorized, {ov.Duplicates} twice",
            "booked = authorized, 0 twice", Met(ov.Duplicates == 0 && ov.Booked == ov.Authorized)]);
        yield return t;
        foreach (var s in new[] { ov.Baseline, ov.Overload, ov.Recovery })
        {
            var line = s.Timeline;
            yield return new Plot(Svg.LineChart($"{s.Label}: calls per second by outcome",
                [new Svg.Series("offered", line.Select(x => ((double)x.Second, (double)x.Offered)).ToList()),
                 new Svg.Series("admitted", line.Select(x => ((double)x.Second, (double)x.Admitted)).ToList()),
                 new Svg.Series("refused", line.Select(x => ((double)x.Second, (double)x.Refused)).ToList())],
                "second of the phase", "calls/s (first attempts)"));
            yield return new Plot(Svg.LineChart($"{s.Label}: admitted pair p99 per second",
                [new Svg.Series("p99 (ms)", line.Select(x => ((double)x.Second, x.AdmittedP99Ms)).ToList())], "second of the phase", "ms"));
        }
    }

    private static string Cls(string cell) => cell switch
    {
        "yes" => " class=\"ok\"",
        "NO" => " class=\"bad\"",
        _ => "",
    };

    private static double MemTotalGb()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            return double.Parse(line[9..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024 / 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
