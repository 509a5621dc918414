namespace Payments.BuildingBlocks.Text;

/// <summary>The rules every URL a merchant registers shares (webhook <c>url</c>, tokenization <c>return_url</c>).</summary>
public static class UrlText
{
    public const string WhitespaceMessage = "Must not contain whitespace or control characters.";
    public const string PortZeroMessage = "Must not use port 0.";

    /// <summary>
    /// Whitespace or a control character anywhere. The JSON body reader lets tab, CR and LF through for free text, and
    /// <see cref="Uri"/> trims or escapes them while the text is stored verbatim: CR/LF would split a header wherever
    /// the URL is later written (header injection) and a space makes the stored URL differ from the one checked.
    /// </summary>
    public static bool HasWhitespaceOrControl(ReadOnlySpan<char> url)
    {
        foreach (var c in url)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return true;
            }
        }
        return false;
    }
}
