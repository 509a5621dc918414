namespace Payments.TestKit;

/// <summary>
/// A unique string for a test to log, or send as a request id, and then find in the log lines. It is letters only:
/// every line passes the log redactor, which masks any Luhn-valid run of 13–19 digits, and a Guid's 32 hex digits
/// hold such a run about once in 130 draws, so a marker built from one was sometimes never found.
/// </summary>
public static class LogMarker
{
    public static string New(string prefix) =>
        prefix + string.Create(32, Guid.NewGuid(), static (chars, guid) =>
        {
            Span<byte> bytes = stackalloc byte[16];
            guid.TryWriteBytes(bytes);
            for (var i = 0; i < 16; i++)
            {
                chars[2 * i] = (char)('a' + (bytes[i] >> 4));
                chars[(2 * i) + 1] = (char)('a' + (bytes[i] & 0xF));
            }
        });
}
