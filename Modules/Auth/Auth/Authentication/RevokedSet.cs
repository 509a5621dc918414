using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Payments.Auth.Authentication;

/// <summary>
/// This process's copy of the unexpired revocations (jti → expiry), which the request path reads with no I/O.
/// <see cref="RevocationFeed"/> fills it from PostgreSQL and Redis pub/sub. It answers only while
/// <see cref="Loaded"/>: before the first load, and after it outgrew <see cref="AuthOptions.MaxRevocationsInMemory"/>,
/// checks go to PostgreSQL (docs/adr/0013).
/// </summary>
internal sealed class RevokedSet(IOptions<AuthOptions> options)
{
    /// <summary>As Redis' TTL: kept a little past expiry, since the verifier accepts a small clock skew.</summary>
    internal static readonly TimeSpan KeptPastExpiry = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<string, DateTimeOffset> entries = new(StringComparer.Ordinal);
    private readonly Lock state = new();
    private volatile bool loaded;
    private long overflows;

    public bool Loaded => loaded;

    public int Count => entries.Count;

    /// <summary>Changes each time the set drops a revocation for want of room; a load counts only if none was dropped meanwhile.</summary>
    public long Generation => Interlocked.Read(ref overflows);

    public bool Contains(string jti) => entries.ContainsKey(jti);

    public void Add(string jti, DateTimeOffset expiresAt)
    {
        if (entries.Count >= options.Value.MaxRevocationsInMemory && !entries.ContainsKey(jti))
        {
            // Dropping it would accept a revoked token: stop answering instead, and let the feed reload.
            lock (state)
            {
                overflows++;
                loaded = false;
            }
            return;
        }
        // The later expiry wins: a stray message cannot shorten a revocation.
        entries.AddOrUpdate(jti, expiresAt, (_, known) => known > expiresAt ? known : expiresAt);
    }

    /// <summary>Trusts the set after a full load begun at <paramref name="generation"/>; false when something was dropped since.</summary>
    public bool MarkLoaded(long generation)
    {
        lock (state)
        {
            if (overflows != generation)
            {
                return false;
            }
            loaded = true;
            return true;
        }
    }

    public void Prune(DateTimeOffset now)
    {
        foreach (var (jti, expiresAt) in entries)
        {
            if (expiresAt + KeptPastExpiry < now)
            {
                entries.TryRemove(KeyValuePair.Create(jti, expiresAt));
            }
        }
    }
}
