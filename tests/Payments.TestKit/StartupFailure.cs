using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Payments.TestKit;

/// <summary>
/// Why a Vault refuses to start. A refusal in a hosted service makes the Vault's <c>RunAsync</c> dispose its host
/// before the exception leaves <c>Main</c>, and WebApplicationFactory, which waits on that host's lifetime, then
/// often throws <see cref="ObjectDisposedException"/> instead of the refusal (CI saw it in KEK tests, on every one of
/// three tries). The host logs the refusal before it disposes anything, so that log entry is the answer.
/// </summary>
public static class StartupFailure
{
    public static async Task<Exception> OfAsync(Func<VaultFactory> create)
    {
        var faults = new FaultCapture();
        await using var factory = create();
        await using var watched = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(faults)));
        var e = Record.Exception(() => watched.Server)
                ?? throw new InvalidOperationException("The Vault started: a refusal was expected.");
        return IsDisposalRace(e) && faults.First is { } logged ? logged : e;
    }

    private static bool IsDisposalRace(Exception e) =>
        e is ObjectDisposedException || e.InnerException is ObjectDisposedException ||
        (e is AggregateException all && all.InnerExceptions.Any(IsDisposalRace));

    /// <summary>The exceptions logged at Error or above while the Vault starts, in order.</summary>
    private sealed class FaultCapture : ILoggerProvider, ILogger
    {
        private readonly ConcurrentQueue<Exception> faults = new();

        public Exception? First => faults.TryPeek(out var e) ? e : null;

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (exception is not null && logLevel >= LogLevel.Error)
            {
                faults.Enqueue(exception);
            }
        }

        public void Dispose()
        {
        }
    }
}
