using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Vault.Contracts;

namespace Payments.IntegrationTests.Refunds;

/// <summary>A point calls stop at on their way to the Vault: the test sees them arrive and says when they go on.</summary>
internal sealed class VaultGate
{
    private readonly SemaphoreSlim arrivals = new(0);
    private readonly TaskCompletionSource open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int arrived;

    /// <summary>How many calls reached the gate.</summary>
    public int Arrived => Volatile.Read(ref arrived);

    /// <summary>True when one more call reached the gate within <paramref name="timeout"/>.</summary>
    public Task<bool> ArrivalAsync(TimeSpan timeout) => arrivals.WaitAsync(timeout);

    public void Open() => open.TrySetResult();

    public async Task PassAsync()
    {
        Interlocked.Increment(ref arrived);
        arrivals.Release();
        await open.Task;
    }
}

/// <summary>
/// The Host's Vault client with refunds (or, with <paramref name="authorizations"/>, authorizations instead) held at
/// <paramref name="gate"/>, then answered by <paramref name="answer"/> when it gives one (a stand-in acquirer's answer)
/// or by the real Vault.
/// </summary>
internal sealed class GatedVault(IVaultClient inner, VaultGate gate, Func<AcquirerRequest, AcquirerOutcome?>? answer = null,
    bool authorizations = false) : IVaultClient
{
    public async Task<AcquirerOutcome> RefundAsync(string merchantId, AcquirerRequest request, CancellationToken ct)
    {
        if (authorizations)
        {
            return await inner.RefundAsync(merchantId, request, ct);
        }
        await gate.PassAsync();
        return answer?.Invoke(request) ?? await inner.RefundAsync(merchantId, request, ct);
    }

    public async Task<AcquirerOutcome> AuthorizeAsync(string merchantId, AcquirerRequest request, CancellationToken ct)
    {
        if (authorizations)
        {
            await gate.PassAsync();
            return answer?.Invoke(request) ?? await inner.AuthorizeAsync(merchantId, request, ct);
        }
        return await inner.AuthorizeAsync(merchantId, request, ct);
    }

    public Task RegisterTokenizationIntentAsync(string merchantId, TokenizationIntentRegistration intent, CancellationToken ct) =>
        inner.RegisterTokenizationIntentAsync(merchantId, intent, ct);

    public Task<TokenizationIntentState?> GetTokenizationIntentAsync(string merchantId, string intentId, CancellationToken ct) =>
        inner.GetTokenizationIntentAsync(merchantId, intentId, ct);

    public Task<CardDisplay?> GetCardAsync(string merchantId, string cardToken, CancellationToken ct) => inner.GetCardAsync(merchantId, cardToken, ct);

    public Task<bool> DeleteCardAsync(string merchantId, string cardToken, CancellationToken ct) => inner.DeleteCardAsync(merchantId, cardToken, ct);
}

/// <summary>
/// The Host's Vault client with every refund's answer lost, as when the Host dies during the call: after the real
/// Vault answered (<paramref name="vaultAnswers"/>), or before the call reached it.
/// </summary>
internal sealed class AnswerLosingVault(IVaultClient inner, bool vaultAnswers) : IVaultClient
{
    public async Task<AcquirerOutcome> RefundAsync(string merchantId, AcquirerRequest request, CancellationToken ct)
    {
        if (vaultAnswers)
        {
            await inner.RefundAsync(merchantId, request, ct);
        }
        throw new VaultUnavailableException("The answer was lost (test).");
    }

    public Task RegisterTokenizationIntentAsync(string merchantId, TokenizationIntentRegistration intent, CancellationToken ct) =>
        inner.RegisterTokenizationIntentAsync(merchantId, intent, ct);

    public Task<TokenizationIntentState?> GetTokenizationIntentAsync(string merchantId, string intentId, CancellationToken ct) =>
        inner.GetTokenizationIntentAsync(merchantId, intentId, ct);

    public Task<CardDisplay?> GetCardAsync(string merchantId, string cardToken, CancellationToken ct) => inner.GetCardAsync(merchantId, cardToken, ct);

    public Task<bool> DeleteCardAsync(string merchantId, string cardToken, CancellationToken ct) => inner.DeleteCardAsync(merchantId, cardToken, ct);

    public Task<AcquirerOutcome> AuthorizeAsync(string merchantId, AcquirerRequest request, CancellationToken ct) =>
        inner.AuthorizeAsync(merchantId, request, ct);
}

internal static class TestVaults
{
    /// <summary>Another Host on the fixture's database and Vault whose Vault client is <paramref name="wrap"/> of the real one. Dispose it.</summary>
    public static HostFactory HostWithVault(this GatewayFixture gateway, Func<IVaultClient, IVaultClient> wrap,
        IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?> { ["Transactions:ScheduledSettlement"] = "false" };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            all[k] = v;
        }
        return gateway.CreateAnotherHost(all, services =>
        {
            var real = services.Last(d => d.ServiceType == typeof(IVaultClient));
            services.Remove(real);
            services.AddSingleton(sp => wrap(real.ImplementationFactory is { } make ? (IVaultClient)make(sp)
                : real.ImplementationInstance as IVaultClient ?? (IVaultClient)ActivatorUtilities.CreateInstance(sp, real.ImplementationType!)));
        });
    }
}
