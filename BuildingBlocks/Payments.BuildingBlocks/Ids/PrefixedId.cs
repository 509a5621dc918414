using System.Security.Cryptography;

namespace Payments.BuildingBlocks.Ids;

/// <summary>
/// Prefixed ULIDs (<c>trx_01J5XCMDXCFXCAQ1BV8HVG6644</c>): 48 bits of milliseconds then 80 random bits,
/// in Crockford base32, so IDs sort by creation time and reveal nothing else.
/// </summary>
public static class PrefixedId
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private const int UlidLength = 26;

    public static string New(string prefix, TimeProvider? clock = null)
    {
        var ms = (ulong)(clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds();
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        var rnd = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(random);

        Span<char> ulid = stackalloc char[UlidLength];
        for (var i = 9; i >= 0; i--, ms >>= 5)
        {
            ulid[i] = Alphabet[(int)(ms & 31)];
        }
        for (var i = 25; i >= 10; i--, rnd >>= 5)
        {
            ulid[i] = Alphabet[(int)(rnd & 31)];
        }
        return string.Concat(prefix, "_", ulid);
    }

    /// <summary>True when <paramref name="value"/> is <c>{prefix}_</c> followed by a well-formed ULID.</summary>
    public static bool IsValid(string prefix, string? value)
    {
        if (value is null || value.Length != prefix.Length + 1 + UlidLength ||
            !value.StartsWith(prefix, StringComparison.Ordinal) || value[prefix.Length] != '_')
        {
            return false;
        }
        var ulid = value.AsSpan(prefix.Length + 1);
        if (ulid[0] > '7')
        {
            return false; // would overflow 128 bits
        }
        foreach (var c in ulid)
        {
            if (!Alphabet.Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }
}
