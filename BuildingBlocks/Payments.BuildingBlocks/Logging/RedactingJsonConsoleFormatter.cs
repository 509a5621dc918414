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
        var scoped = new List<(string Key, string Value)>();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            // Every key once per line: log pipelines reject a repeated key or keep the wrong one.
            var written = new HashSet<string>(StringComparer.Ordinal);
            void Field(string key, string? value)
            {
                if (written.Add(key))
                {
                    w.WriteString(key, value);
                }
            }
            Field("ts", DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            Field("level", logEntry.LogLevel.ToString());
            Field("category", logEntry.Category);
            if (logEntry.EventId.Id != 0 && written.Add("event_id"))
            {
                w.WriteNumber("event_id", logEntry.EventId.Id);
            }
            Field("message", LogRedactor.Redact(message));
            // The trace ids are the runtime's random hex, not input: never redacted, or a Luhn-valid digit run in one
            // (it happens by chance) would break correlation. Activity.Current first (ADR 118), then a scope's.
            if (System.Diagnostics.Activity.Current is { } activity && activity.TraceId != default)
            {
                Field("trace_id", activity.TraceId.ToHexString());
                Field("span_id", activity.SpanId.ToHexString());
            }
            // Correlation ids first, so a message property of the same name cannot take their place.
            scopeProvider?.ForEachScope((scope, fields) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object>> pairs)
                {
                    foreach (var (key, value) in pairs)
                    {
                        if (ScopeField(key) is { } name && value?.ToString() is { Length: > 0 } text)
                        {
                            fields.Add((name, text));
                        }
                    }
                }
            }, scoped);
            // The innermost scope is the most specific (the Vault's verified Host id over nothing at all).
            for (var i = scoped.Count - 1; i >= 0; i--)
            {
                var (key, value) = scoped[i];
                Field(key, IsGeneratedId(key, value) ? value : LogRedactor.Redact(value));
            }
            if (logEntry.State is IReadOnlyList<KeyValuePair<string, object?>> props)
            {
                foreach (var (key, value) in props)
                {
                    if (key == "{OriginalFormat}")
                    {
                        continue;
                    }
                    Field(key, LogRedactor.Redact(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)));
                }
            }
            if (logEntry.Exception is { } ex)
            {
                Field("exception_type", ex.GetType().FullName);
                Field("exception", LogRedactor.Redact(ex.ToString()));
            }
            w.WriteEndObject();
        }
        textWriter.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        textWriter.Write('\n');
    }

    /// <summary>A W3C trace or span id as the runtime writes it: lower-case hex of its fixed length, nothing else.</summary>
    private static bool IsGeneratedId(string field, string value) =>
        value.Length == field switch { "trace_id" => 32, "span_id" => 16, _ => -1 }
        && value.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>
    /// The log field a scope value goes to, or null to drop it. <c>request_id</c> is the gateway's id (the Host's,
    /// in the Vault from the signed call); ASP.NET Core's own <c>RequestId</c> (Kestrel's connection-based trace
    /// identifier) is dropped, its connection id renamed.
    /// </summary>
    private static string? ScopeField(string key) => key switch
    {
        LogScopes.GatewayRequestId or LogScopes.HostRequestId => "request_id",
        LogScopes.VaultRequestId => "vault_request_id",
        LogScopes.ClientRequestId => "client_request_id",
        "ConnectionId" => "connection_id",
        "TraceId" => "trace_id",
        "SpanId" => "span_id",
        _ => null,
    };
}

/// <summary>Scope keys the formatter writes as fields (see <see cref="RedactingJsonConsoleFormatter"/>).</summary>
public static class LogScopes
{
    /// <summary>The Host's request id (<c>Request-Id</c>), set by RequestIdMiddleware: <c>request_id</c>.</summary>
    public const string GatewayRequestId = "GatewayRequestId";

    /// <summary>In the Vault: the Host's request id from a verified service token: <c>request_id</c>.</summary>
    public const string HostRequestId = "HostRequestId";

    /// <summary>A caller's own <c>Request-Id</c> header, checked but never the answer's id: <c>client_request_id</c>.</summary>
    public const string ClientRequestId = "ClientRequestId";

    /// <summary>The Vault's own id for a request: <c>vault_request_id</c>.</summary>
    public const string VaultRequestId = "VaultRequestId";
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
