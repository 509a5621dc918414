namespace Payments.BuildingBlocks.Text;

/// <summary>The contract's rules for merchant text (<c>description</c>, <c>reason</c>, <c>metadata</c>, any JSON string).</summary>
public static class MerchantText
{
    public const string ControlCharacterMessage = "Must not contain control characters (tab and line breaks are allowed).";

    /// <summary><c>description</c> and <c>reason</c>: at most this many characters.</summary>
    public const int MaxTextLength = 1000;

    /// <summary><c>metadata</c>: at most this many pairs (the contract), keys and values at most this long (the gateway's).</summary>
    public const int MaxMetadataPairs = 20, MaxMetadataKeyLength = 40, MaxMetadataValueLength = 500;

    /// <summary>One metadata pair within the bounds: a key of 1 to 40 characters, a string value of at most 500.</summary>
    public static bool IsMetadataPair(string key, string? value) =>
        Length(key) is >= 1 and <= MaxMetadataKeyLength && value is not null && IsAtMost(value, MaxMetadataValueLength);

    /// <summary>
    /// Characters as the contract counts them: Unicode scalar values, as PostgreSQL's <c>length()</c> does in the
    /// columns' CHECKs, not UTF-16 units (an emoji is one character, two units).
    /// </summary>
    public static int Length(string text)
    {
        var count = 0;
        foreach (var _ in text.EnumerateRunes())
        {
            count++;
        }
        return count;
    }

    /// <summary>Null, or at most <paramref name="max"/> characters (<see cref="Length"/>).</summary>
    public static bool IsAtMost(string? text, int max) =>
        text is null || text.Length <= max || Length(text) <= max; // UTF-16 units are never fewer than characters

    /// <summary>
    /// Control characters other than tab, line feed and carriage return: they carry no text and NUL in particular
    /// cannot be stored (PostgreSQL refuses it in text and jsonb). Tab and line breaks are text here; the token route's
    /// credentials and the query (the Host's pipeline) refuse every control character.
    /// </summary>
    public static bool HasControlCharacters(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (char.IsControl(c) && c is not ('\t' or '\n' or '\r'))
            {
                return true;
            }
        }
        return false;
    }
}
