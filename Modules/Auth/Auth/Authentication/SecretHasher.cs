using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Payments.Auth.Authentication;

/// <summary>
/// Client secrets as salted PBKDF2-SHA256 with a high iteration count, compared in constant time.
/// The iteration count is stored with each hash so it can be raised without breaking existing secrets.
/// </summary>
internal sealed class SecretHasher
{
    private const string Prefix = "pbkdf2-sha256";
    private readonly int iterations;

    public SecretHasher(IOptions<AuthOptions> options)
    {
        iterations = Math.Max(1000, options.Value.SecretHashIterations);
        // Same cost as a real one, so an unknown client takes as long as a wrong secret.
        DummyHash = Hash(NewSecret());
    }

    public string DummyHash { get; }

    public static string NewSecret() => "sk_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public string Hash(string secret)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iterations, HashAlgorithmName.SHA256, 32);
        return string.Join('$', Prefix, iterations.ToString(CultureInfo.InvariantCulture),
            Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    public static bool Verify(string secret, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Prefix
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iter) || iter < 1)
        {
            return false;
        }
        var salt = Convert.FromBase64String(parts[2]);
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iter, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
