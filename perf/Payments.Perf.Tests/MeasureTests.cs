using System.Diagnostics;
using Payments.Perf.Measure;
using Payments.TestKit;

namespace Payments.Perf.Tests;

public sealed class MeasureTests
{
    [Fact]
    public void Proc_stat_fields_are_read_past_a_command_name_with_spaces_and_parentheses()
    {
        const string Stat = "4242 (postgres: app (x) y) S 17 4242 4242 0 -1 4194560 100 0 0 0 731 212 0 0 20 0 1 0 5000 1000 200";

        Assert.Equal("4242", ProcStat.Field(Stat, 1));
        Assert.Equal("postgres: app (x) y", ProcStat.Field(Stat, 2));
        Assert.Equal("S", ProcStat.Field(Stat, 3));
        Assert.Equal("17", ProcStat.Field(Stat, 4));
        Assert.Equal("731", ProcStat.Field(Stat, 14));
        Assert.Equal("212", ProcStat.Field(Stat, 15));
    }

    [Fact]
    public void A_step_counts_errors_by_status_and_code_and_keeps_latency_of_every_request()
    {
        var phase = new PhaseStats("pair", "closed, 1 clients");
        phase.Start();
        var start = Stopwatch.GetTimestamp() - Stopwatch.Frequency / 100; // 10 ms ago
        phase.Record("capture", start, 200, null);
        phase.Record("capture", start, 422, "amount_exceeds_remaining");
        phase.Record("capture", start, 422, "amount_exceeds_remaining");
        phase.Record("capture", start, 0, "timeout");
        phase.Stop();

        var step = phase.Step("capture");
        Assert.Equal(4, step.Requests);
        Assert.Equal(1, step.Ok);
        Assert.Equal(2, step.Errors["422:amount_exceeds_remaining"]);
        Assert.Equal(1, step.Errors["transport:timeout"]);
        Assert.True(step.PercentileMs(50) >= 10);
    }

    [Fact]
    public void Refusals_are_a_step_of_their_own_in_the_server_side_latency()
    {
        const string Scrape = """
            http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="201",http_route="/v1/transactions",le="0.025"} 9
            http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="201",http_route="/v1/transactions",le="+Inf"} 10
            http_server_request_duration_seconds_sum{http_request_method="POST",http_response_status_code="201",http_route="/v1/transactions"} 0.2
            http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="201",http_route="/v1/transactions"} 10
            http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="503",http_route="/v1/transactions",le="0.005"} 4
            http_server_request_duration_seconds_bucket{http_request_method="POST",http_response_status_code="503",http_route="/v1/transactions",le="+Inf"} 4
            http_server_request_duration_seconds_sum{http_request_method="POST",http_response_status_code="503",http_route="/v1/transactions"} 0.004
            http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="503",http_route="/v1/transactions"} 4
            """;

        var steps = ServerMetrics.Delta([], [.. ServerMetrics.Parse("Host", Scrape)]);

        Assert.Equal(10, steps.Single(s => s.Step == "POST /v1/transactions").Count);
        var refused = steps.Single(s => s.Step == "POST /v1/transactions → 503");
        Assert.Equal(4, refused.Count);
        Assert.Equal(1.0, refused.MeanMs, 3);
    }

    [Fact]
    public void Exceptions_thrown_in_a_phase_are_counted_by_type_apart_from_latency()
    {
        const string Before = """
            # TYPE dotnet_exceptions_total counter
            dotnet_exceptions_total{error_type="PostgresException"} 105
            """;
        const string After = """
            # TYPE dotnet_exceptions_total counter
            dotnet_exceptions_total{error_type="PostgresException"} 112
            dotnet_exceptions_total{error_type="TaskCanceledException"} 3
            """;

        var steps = ServerMetrics.Delta([.. ServerMetrics.Parse("Host", Before)], [.. ServerMetrics.Parse("Host", After)]);

        Assert.All(steps, s => Assert.True(s.Exceptions));
        Assert.Equal(7, steps.Single(s => s.Step == "PostgresException").Count);
        Assert.Equal(3, steps.Single(s => s.Step == "TaskCanceledException").Count);
    }
}
