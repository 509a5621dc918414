using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Payments.BuildingBlocks.Logging;

/// <summary>
/// One JSON object per line, every string passed through <see cref="LogRedactor"/>: the message, the
/// state's values, the scopes and the exception. Exceptions keep their type and stack, not their data.
/// </summary>
public sealed class RedactingJsonConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "payments-json";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("ts", DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("level", logEntry.LogLevel.ToString());
            w.WriteString("category", logEntry.Category);
            if (logEntry.EventId.Id != 0)
            {
                w.WriteNumber("event_id", logEntry.EventId.Id);
            }
            w.WriteString("message", LogRedactor.Redact(message));
            if (logEntry.State is IReadOnlyList<KeyValuePair<string, object?>> props)
            {
                foreach (var (key, value) in props)
                {
                    if (key == "{OriginalFormat}")
                    {
                        continue;
                    }
                    w.WriteString(key, LogRedactor.Redact(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)));
                }
            }
            scopeProvider?.ForEachScope((scope, writer) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object>> pairs)
                {
                    foreach (var (key, value) in pairs)
                    {
                        if (key is "RequestId" or "TraceId" or "SpanId")
                        {
                            writer.WriteString(key == "RequestId" ? "request_id" : key, LogRedactor.Redact(value?.ToString()));
                        }
                    }
                }
            }, w);
            if (logEntry.Exception is { } ex)
            {
                w.WriteString("exception_type", ex.GetType().FullName);
                w.WriteString("exception", LogRedactor.Redact(ex.ToString()));
            }
            w.WriteEndObject();
        }
        textWriter.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        textWriter.Write('\n');
    }
}

public static class RedactedLoggingExtensions
{
    /// <summary>Console logging in redacted JSON lines, all levels on standard error (stdout is for operator output).</summary>
    public static ILoggingBuilder AddRedactedConsole(this ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.AddConsole(o =>
        {
            o.FormatterName = RedactingJsonConsoleFormatter.FormatterName;
            o.LogToStandardErrorThreshold = LogLevel.Trace;
        });
        logging.AddConsoleFormatter<RedactingJsonConsoleFormatter, ConsoleFormatterOptions>();
        return logging;
    }
}
