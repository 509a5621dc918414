using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Payments.Auth.Tokens;

/// <summary>
/// Tokens this process verified, each kept while its lifetime checks hold, so a request with one costs a hash instead
/// of parsing and a signature check (docs/adr/0013). Keyed by the token's SHA-256: the token itself is not kept.
/// An entry names the <see cref="SigningKey"/> instance that verified it; <see cref="TokenService"/> uses it only
/// while the key store still returns that instance for the kid, so a withdrawn or replaced key ends it at once.
/// Bounded by <see cref="AuthOptions.VerifiedTokenCacheSize"/>: when full, new tokens are verified every time until
/// a sweep frees room.
/// </summary>
internal sealed class VerifiedTokenCache(IOptions<AuthOptions> options)
{
    private const long SweepEveryMs = 10_000;
    private readonly ConcurrentDictionary<TokenHash, Entry> entries = new();
    private long nextSweep;

    internal sealed record Entry(VerifiedToken Token, SigningKey Key, DateTimeOffset ValidFrom, DateTimeOffset ValidUntil);

    internal readonly record struct TokenHash(UInt128 High, UInt128 Low)
    {
        public static TokenHash Of(string token)
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(MemoryMarshal.AsBytes(token.AsSpan()), hash);
            return new TokenHash(BinaryPrimitives.ReadUInt128LittleEndian(hash), BinaryPrimitives.ReadUInt128LittleEndian(hash[16..]));
        }
    }

    public int Count => entries.Count;

    /// <summary>The entry when the token's lifetime checks hold at <paramref name="now"/>.</summary>
    public Entry? Find(TokenHash hash, DateTimeOffset now)
    {
        if (!entries.TryGetValue(hash, out var entry))
        {
            return null;
        }
        if (now >= entry.ValidFrom && now < entry.ValidUntil)
        {
            return entry;
        }
        if (now >= entry.ValidUntil)
        {
            entries.TryRemove(KeyValuePair.Create(hash, entry));
        }
        return null;
    }

    public void Remove(TokenHash hash, Entry entry) => entries.TryRemove(KeyValuePair.Create(hash, entry));

    public void Add(TokenHash hash, Entry entry, DateTimeOffset now)
    {
        var tick = Environment.TickCount64;
        var due = Interlocked.Read(ref nextSweep);
        if (tick >= due && Interlocked.CompareExchange(ref nextSweep, tick + SweepEveryMs, due) == due)
        {
            foreach (var (key, value) in entries)
            {
                if (now >= value.ValidUntil)
                {
                    entries.TryRemove(KeyValuePair.Create(key, value));
                }
            }
        }
        if (entries.Count < options.Value.VerifiedTokenCacheSize)
        {
            entries[hash] = entry;
        }
    }
}
