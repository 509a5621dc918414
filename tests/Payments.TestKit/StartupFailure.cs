using Xunit;

namespace Payments.TestKit;

/// <summary>
/// Why a Vault refuses to start. WebApplicationFactory rethrows the start-up exception, except that a failed start
/// races the factory's own disposal of the host and now and then surfaces an <see cref="ObjectDisposedException"/>
/// instead (CI saw it once, in a KEK test). That outcome says nothing about the refusal, so a new factory tries again.
/// </summary>
public static class StartupFailure
{
    public static async Task<Exception> OfAsync(Func<VaultFactory> create)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var factory = create();
            var e = Record.Exception(() => factory.Server)
                    ?? throw new InvalidOperationException("The Vault started: a refusal was expected.");
            if (attempt == 3 || !IsDisposalRace(e))
            {
                return e;
            }
        }
    }

    private static bool IsDisposalRace(Exception e) =>
        e is ObjectDisposedException || e.InnerException is ObjectDisposedException ||
        (e is AggregateException all && all.InnerExceptions.Any(IsDisposalRace));
}
