using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Payments.Vault.Cards;

/// <summary>
/// CVCs, only in this process's memory, sealed with AES-256-GCM under a key made at start and never written
/// anywhere; each expires at an absolute time and is removed by the first authorization that reads it.
/// A restart forgets them all, by design.
/// </summary>
internal sealed class CvcStore : IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private readonly AesGcm aes = new(RandomNumberGenerator.GetBytes(32), 16);
    private readonly TimeProvider clock;
    private readonly TimeSpan lifetime;
    private readonly ITimer sweeper;

    public CvcStore(TimeProvider clock, Microsoft.Extensions.Options.IOptions<VaultOptions> options)
    {
        this.clock = clock;
        lifetime = options.Value.CvcLifetime;
        sweeper = clock.CreateTimer(_ => Sweep(), null, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
    }

    public int Count => entries.Count;

    public void Put(string token, string cvc)
    {
        var plaintext = Encoding.ASCII.GetBytes(cvc);
        var sealedBytes = new byte[12 + 16 + plaintext.Length];
        RandomNumberGenerator.Fill(sealedBytes.AsSpan(0, 12));
        lock (aes)
        {
            aes.Encrypt(sealedBytes.AsSpan(0, 12), plaintext, sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), Encoding.ASCII.GetBytes(token));
        }
        CryptographicOperations.ZeroMemory(plaintext);
        entries[token] = new Entry(sealedBytes, clock.GetUtcNow() + lifetime);
    }

    /// <summary>Removes the token's CVC and returns it, or null when there is none or it expired.</summary>
    public string? Take(string token)
    {
        if (!entries.TryRemove(token, out var entry) || entry.ExpiresAt <= clock.GetUtcNow())
        {
            return null;
        }
        var plaintext = new byte[entry.Sealed.Length - 28];
        lock (aes)
        {
            aes.Decrypt(entry.Sealed.AsSpan(0, 12), entry.Sealed.AsSpan(28), entry.Sealed.AsSpan(12, 16), plaintext, Encoding.ASCII.GetBytes(token));
        }
        var cvc = Encoding.ASCII.GetString(plaintext);
        CryptographicOperations.ZeroMemory(plaintext);
        CryptographicOperations.ZeroMemory(entry.Sealed);
        return cvc;
    }

    public bool Contains(string token) => entries.TryGetValue(token, out var e) && e.ExpiresAt > clock.GetUtcNow();

    public void Forget(string token)
    {
        if (entries.TryRemove(token, out var entry))
        {
            CryptographicOperations.ZeroMemory(entry.Sealed);
        }
    }

    internal void Sweep()
    {
        var now = clock.GetUtcNow();
        foreach (var (token, entry) in entries)
        {
            if (entry.ExpiresAt <= now && entries.TryRemove(token, out _))
            {
                CryptographicOperations.ZeroMemory(entry.Sealed);
            }
        }
    }

    public void Dispose()
    {
        sweeper.Dispose();
        aes.Dispose();
    }

    private sealed record Entry(byte[] Sealed, DateTimeOffset ExpiresAt);
}
