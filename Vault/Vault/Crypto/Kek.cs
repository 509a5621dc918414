using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Payments.Vault.Crypto;

/// <summary>
/// The key-encryption key: the XOR of several full-length components, so no single holder knows it. The serving
/// Vault reads one file per custodian (<c>Vault:Kek:ComponentFiles</c>, each readable only by its OS user); inline
/// <c>Vault:Kek:Components</c> remain for tests. Only derived keys leave this class; the KEK itself encrypts nothing
/// directly. Its <see cref="Version"/> is the one the database records for its check value (docs/adr/0125).
/// </summary>
internal sealed class Kek
{
    private readonly byte[] kek;

    public Kek(IOptions<VaultOptions> options)
        : this(ReadComponents(options.Value.Kek))
    {
    }

    private Kek(IReadOnlyList<byte[]> components)
    {
        if (components.Count < 2)
        {
            throw new InvalidOperationException(
                "Vault:Kek:ComponentFiles (or Vault:Kek:Components) must give at least two components of 32 bytes: the Vault will not store keys unencrypted.");
        }
        kek = new byte[32];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var bytes in components)
        {
            if (bytes.Length != 32)
            {
                throw new InvalidOperationException("Every KEK component must be 32 bytes.");
            }
            if (!seen.Add(Convert.ToBase64String(bytes)))
            {
                throw new InvalidOperationException("Two KEK components are equal: their XOR would cancel out.");
            }
            for (var i = 0; i < 32; i++)
            {
                kek[i] ^= bytes[i];
            }
        }
        if (kek.All(b => b == 0))
        {
            throw new InvalidOperationException("The Vault KEK is all zeros.");
        }
        Kcv = KeyCheck.Of(kek);
        ComponentKcvs = components.Select(KeyCheck.Of).ToList();
    }

    /// <summary>The key check value of the combined KEK (docs/adr/0126).</summary>
    public string Kcv { get; }

    /// <summary>Each component's key check value, in order: each custodian confirms their own.</summary>
    public IReadOnlyList<string> ComponentKcvs { get; }

    /// <summary>The KEK version the database records for <see cref="Kcv"/>; 0 until the start-up check sets it.</summary>
    public int Version { get; internal set; }

    /// <summary>The KEK a rotation ceremony brings: components read from the custodians' files or prompts.</summary>
    public static Kek FromComponents(IReadOnlyList<byte[]> components) => new(components);

    /// <summary>A key for one use, derived with HKDF-SHA256 so uses never share key material.</summary>
    public byte[] Derive(string purpose) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, kek, 32, salt: Encoding.UTF8.GetBytes("payments-vault-kek-v1"),
            info: Encoding.UTF8.GetBytes(purpose));

    /// <summary>A component as custodians hold it: base64 of 32 bytes (surrounding white space ignored).</summary>
    public static byte[] ParseComponent(string text, string what)
    {
        try
        {
            return Convert.FromBase64String(text.Trim());
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{what} is not base64.");
        }
    }

    /// <summary>
    /// Reads a custodian's file, refusing one that other OS users could read: a component any other user can read is
    /// no longer split knowledge.
    /// </summary>
    public static byte[] ReadComponentFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"KEK component file {path} does not exist.");
        }
        if (!OperatingSystem.IsWindows() &&
            (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            throw new InvalidOperationException($"KEK component file {path} is readable by other OS users: chmod 600 it.");
        }
        return ParseComponent(File.ReadAllText(path), $"KEK component file {path}");
    }

    private static List<byte[]> ReadComponents(KekOptions options)
    {
        if (options.ComponentFiles.Count > 0)
        {
            if (options.Components.Count > 0)
            {
                throw new InvalidOperationException("Give the KEK either as Vault:Kek:ComponentFiles or as Vault:Kek:Components, not both.");
            }
            return options.ComponentFiles.Select(ReadComponentFile).ToList();
        }
        return options.Components.Select((c, i) => ParseComponent(c, $"Vault:Kek:Components:{i}")).ToList();
    }
}

/// <summary>
/// Key check values, the payments convention (ANSI X9.24, PCI PIN): the first three bytes of the key's AES
/// encryption of a block of zeros, in hex. They let a custodian confirm a component without showing it.
/// </summary>
internal static class KeyCheck
{
    public static string Of(byte[] key)
    {
        using var aes = Aes.Create();
        aes.Key = key;
        var block = aes.EncryptEcb(new byte[16], PaddingMode.None);
        return Convert.ToHexString(block, 0, 3);
    }
}
