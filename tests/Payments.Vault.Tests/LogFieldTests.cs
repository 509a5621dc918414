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
