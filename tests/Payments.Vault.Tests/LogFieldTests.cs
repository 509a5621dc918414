using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Logging;

namespace Payments.Vault.Tests;

/// <summary>
/// A log line written inside a request, with the scopes ASP.NET Core and Kestrel open around it (their own
/// <c>RequestId</c> and <c>ConnectionId</c>) and the gateway's Request-Id middleware: every key once, the gateway's id
/// as <c>request_id</c>, the trace from <c>Activity.Current</c>.
/// </summary>
public sealed class LogFieldTests
{
    [Fact]
    public async Task A_line_inside_a_request_has_each_key_once_and_the_gateways_request_id()
    {
        var scopes = new LoggerExternalScopeProvider();
        var output = new StringWriter();
        var logger = new FormattingLogger(scopes, output);
        var http = new DefaultHttpContext();
        http.Request.Headers["Request-Id"] = "req_log_fields";
        var middleware = new RequestIdMiddleware(_ =>
        {
            logger.LogInformation("Inside the request {RequestPath}", "/v1/x");
            return Task.CompletedTask;
        }, logger);
        using var activity = new Activity("test").Start();

        using (scopes.Push(new Dictionary<string, object> { ["ConnectionId"] = "0HNCONN" }))
        using (scopes.Push(new Dictionary<string, object> { ["RequestId"] = "0HNCONN:00000001", ["RequestPath"] = "/v1/x" }))
        {
            await middleware.InvokeAsync(http);
        }

        var line = output.ToString().Trim();
        var keys = new List<string>();
        var values = new Dictionary<string, string>();
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            keys.Add(key);
            reader.Read();
            values[key] = reader.TokenType == JsonTokenType.String ? reader.GetString()! : "";
        }
        Assert.True(keys.Count == keys.Distinct().Count(), "a key repeats: " + line);
        // The gateway's own id; the caller's header only under its own name (ADR 118).
        Assert.Equal(http.TraceIdentifier, values["request_id"]);
        Assert.StartsWith("req_", values["request_id"], StringComparison.Ordinal);
        Assert.Equal("req_log_fields", values["client_request_id"]);
        Assert.Equal(activity.TraceId.ToHexString(), values["trace_id"]);
        Assert.DoesNotContain("0HNCONN:00000001", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_trace_id_holding_a_luhn_valid_digit_run_is_written_as_is_while_the_message_is_redacted()
    {
        var scopes = new LoggerExternalScopeProvider();
        var output = new StringWriter();
        var logger = new FormattingLogger(scopes, output);
        // Random hex ids hold such a run now and then; this one on purpose (4111 1111 1111 1111 passes Luhn).
        const string traceId = "4111111111111111aaaaaaaaaaaaaaaa";
        using var activity = new Activity("test").SetParentId(ActivityTraceId.CreateFromString(traceId),
            ActivitySpanId.CreateFromString("4242424242424242"), ActivityTraceFlags.None).Start();

        // As ASP.NET Core's hosting scope carries them too.
        using (scopes.Push(new Dictionary<string, object> { ["TraceId"] = traceId, ["SpanId"] = activity.SpanId.ToHexString() }))
        {
            logger.LogInformation("Card {Number} seen", "4111111111111111");
        }

        using var json = JsonDocument.Parse(output.ToString().Trim());
        var root = json.RootElement;
        Assert.Equal(traceId, root.GetProperty("trace_id").GetString());
        Assert.Equal(activity.SpanId.ToHexString(), root.GetProperty("span_id").GetString());
        Assert.DoesNotContain("4111111111111111", root.GetProperty("message").GetString()!, StringComparison.Ordinal);
        Assert.DoesNotContain("4111111111111111", root.GetProperty("Number").GetString()!, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scope_trace_id_that_is_not_a_generated_id_is_redacted()
    {
        var scopes = new LoggerExternalScopeProvider();
        var output = new StringWriter();
        var logger = new FormattingLogger(scopes, output);
        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            using (scopes.Push(new Dictionary<string, object> { ["TraceId"] = "card 4111111111111111" }))
            {
                logger.LogInformation("No activity");
            }
        }
        finally
        {
            Activity.Current = previous;
        }

        Assert.DoesNotContain("4111111111111111", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A logger that keeps scopes in one provider and writes through the gateway's JSON formatter.</summary>
    private sealed class FormattingLogger(IExternalScopeProvider scopes, TextWriter output) : ILogger<RequestIdMiddleware>
    {
        private readonly RedactingJsonConsoleFormatter formatter = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            this.formatter.Write(new Microsoft.Extensions.Logging.Abstractions.LogEntry<TState>(logLevel, "test", eventId, state, exception, formatter),
                scopes, output);
    }
}
