using System.Collections.Concurrent;
using System.Text;

namespace Payments.Security.Tests.Kit;

/// <summary>
/// Everything the in-process Host and Vault write to standard error (their logs, through the very
/// <c>RedactingJsonConsoleFormatter</c> they use in production) and every HTTP answer the suites received.
/// The leak scan reads both at the end of the run.
/// </summary>
internal static class CapturedOutput
{
    private static readonly object Gate = new();
    private static readonly StringBuilder Logs = new();
    private static readonly ConcurrentQueue<RecordedResponse> Responses = new();
    private static bool installed;

    /// <summary>
    /// Routes the process's standard error into the capture. The console logger takes <c>Console.Error</c> when it
    /// is created, so this runs before the first Host or Vault is built.
    /// </summary>
    public static void Install()
    {
        lock (Gate)
        {
            if (installed)
            {
                return;
            }
            Console.SetError(TextWriter.Synchronized(new CaptureWriter()));
            installed = true;
        }
    }

    public static string LogText()
    {
        lock (Gate)
        {
            return Logs.ToString();
        }
    }

    /// <summary>How much has been captured so far: a mark for <see cref="LogTextSince"/>.</summary>
    public static int LogLength
    {
        get
        {
            lock (Gate)
            {
                return Logs.Length;
            }
        }
    }

    /// <summary>What was captured after <paramref name="mark"/>: cheap to poll, unlike copying every log line each time.</summary>
    public static string LogTextSince(int mark)
    {
        lock (Gate)
        {
            return Logs.ToString(mark, Logs.Length - mark);
        }
    }

    public static IReadOnlyCollection<RecordedResponse> RecordedResponses => Responses.ToArray();

    public static void Record(RecordedResponse response) => Responses.Enqueue(response);

    private sealed class CaptureWriter : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (Gate)
            {
                Logs.Append(value);
            }
        }

        public override void Write(string? value)
        {
            lock (Gate)
            {
                Logs.Append(value);
            }
        }

        public override void Write(char[] buffer, int index, int count)
        {
            lock (Gate)
            {
                Logs.Append(buffer, index, count);
            }
        }
    }
}

internal sealed record RecordedResponse(string Method, string Path, int Status, string? ContentType, string Body);

/// <summary>Keeps a copy of every answer's body (Host and Vault) for the leak scan.</summary>
internal sealed class RecordingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        CapturedOutput.Record(new RecordedResponse(
            request.Method.Method,
            request.RequestUri?.AbsolutePath ?? "",
            (int)response.StatusCode,
            response.Content.Headers.ContentType?.MediaType,
            body));
        return response;
    }
}
