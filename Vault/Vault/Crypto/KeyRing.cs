using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Npgsql;

namespace Payments.Vault.Crypto;

/// <summary>
/// The Data Protection key ring in the Vault's database. Every row carries an HMAC (a KEK-derived key) over its
/// name and XML: a row inserted or altered behind the Vault's back is left out of the ring and reported.
/// Refuses to store a key whose secret is not encrypted, so a missing encryptor stops start-up.
/// </summary>
internal sealed class PostgresXmlRepository(NpgsqlDataSource db, Kek kek, Audit.AuditLog audit, ILogger<PostgresXmlRepository> logger) : IXmlRepository
{
    private static readonly XNamespace DataProtectionNs = "http://schemas.asp.net/2015/03/dataProtection";
    // Each row as last verified under this process' KEK: after a KEK rotation, until this process is restarted with
    // the new components, it keeps the keys it had (the same keys, encrypted under the KEK it still holds).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, XElement> verified = new();

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        // Before the start-up check has matched the KEK to its version, every row would look like another version's:
        // an empty ring read now would have Data Protection make a new key. Refused until then.
        RequireCheckedKek();
        var elements = new List<XElement>();
        // Destroyed keys are tombstones (docs/adr/0130); rows under another KEK version cannot be read with this KEK.
        using var cmd = db.CreateCommand(
            "SELECT id, friendly_name, xml, mac, kek_version FROM vault.data_protection_keys WHERE destroyed_at IS NULL ORDER BY id");
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            var id = reader.GetInt64(0);
            var name = reader.GetString(1);
            var xml = reader.GetString(2);
            var mac = (byte[])reader[3];
            var kekVersion = reader.GetInt32(4);
            if (kekVersion != kek.Version)
            {
                logger.LogCritical("Key ring row {RowId} is under KEK version {RowKekVersion}, this Vault runs version {KekVersion}: restart it with the current KEK components",
                    id, kekVersion, kek.Version);
                if (verified.TryGetValue(id, out var known))
                {
                    elements.Add(new XElement(known));
                }
                continue;
            }
            if (!CryptographicOperations.FixedTimeEquals(mac, Mac(name, xml)))
            {
                logger.LogCritical("Key ring row {RowId} fails its MAC: it was written outside the Vault and is ignored", id);
                continue;
            }
            var element = XElement.Parse(xml);
            verified[id] = new XElement(element);
            elements.Add(element);
        }
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        RequireCheckedKek();
        if (element.DescendantsAndSelf().Any(e => (bool?)e.Attribute(DataProtectionNs + "requiresEncryption") == true))
        {
            throw new InvalidOperationException("Refusing to store a Data Protection key that is not encrypted under the KEK.");
        }
        var xml = element.ToString(SaveOptions.DisableFormatting);
        // Data Protection calls this synchronously; the key row and its audit row commit together.
        using var conn = db.OpenConnection();
        using var tx = conn.BeginTransaction();
        var action = element.Name.LocalName == "revocation" ? "key.revoked" : "key.created";
        var keyId = (string?)element.Attribute("id") ?? (string?)element.Element("key")?.Attribute("id");
        using (var cmd = new NpgsqlCommand(
                   "INSERT INTO vault.data_protection_keys (friendly_name, xml, mac, kek_version, key_id) VALUES ($1, $2, $3, $4, $5)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = friendlyName });
            cmd.Parameters.Add(new() { Value = xml });
            cmd.Parameters.Add(new() { Value = Mac(friendlyName, xml) });
            cmd.Parameters.Add(new() { Value = kek.Version });
            cmd.Parameters.Add(new() { Value = Guid.TryParse(keyId, out var k) ? k : DBNull.Value });
            cmd.ExecuteNonQuery();
        }
        audit.AppendAsync(conn, tx, action, null, keyId, new Dictionary<string, object?> { ["friendly_name"] = friendlyName },
            CancellationToken.None).GetAwaiter().GetResult();
        tx.Commit();
    }

    internal byte[] Mac(string friendlyName, string xml) => Mac(kek, friendlyName, xml);

    private void RequireCheckedKek()
    {
        if (kek.Version == 0)
        {
            throw new InvalidOperationException("The key ring is not readable before the start-up check has matched the KEK to its version.");
        }
    }

    internal static byte[] Mac(Kek kek, string friendlyName, string xml)
    {
        var macKey = kek.Derive("dp-key-row-mac-v1");
        var mac = HMACSHA256.HashData(macKey, Encoding.UTF8.GetBytes(friendlyName + "\n" + xml));
        CryptographicOperations.ZeroMemory(macKey);
        return mac;
    }

    /// <summary>
    /// A key row's XML with every KEK-encrypted secret decrypted under <paramref name="from"/> and encrypted again under
    /// <paramref name="to"/> (the KEK rotation ceremony); revocation rows have none and come back unchanged.
    /// </summary>
    internal static string Rewrap(string xml, Kek from, Kek to)
    {
        var element = XElement.Parse(xml);
        foreach (var encrypted in element.Descendants(KekXmlEncryptor.ElementName).ToList())
        {
            var plaintext = KekXmlEncryptor.Decrypt(from, encrypted);
            encrypted.ReplaceWith(new KekXmlEncryptor(to).Encrypt(plaintext).EncryptedElement);
        }
        return element.ToString(SaveOptions.DisableFormatting);
    }
}

/// <summary>Encrypts each key's XML with AES-256-GCM under a KEK-derived key before it reaches the repository.</summary>
internal sealed class KekXmlEncryptor(Kek kek) : IXmlEncryptor
{
    internal static readonly XName ElementName = "kekEncryptedKey";
    private static readonly byte[] Aad = Encoding.UTF8.GetBytes("payments-vault-dp-key-v1");

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var key = kek.Derive("dp-key-wrap-v1");
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var nonce = RandomNumberGenerator.GetBytes(12);
        var sealedBytes = new byte[12 + 16 + plaintext.Length];
        using (var aes = new AesGcm(key, 16))
        {
            aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), Aad);
        }
        nonce.CopyTo(sealedBytes, 0);
        CryptographicOperations.ZeroMemory(plaintext);
        CryptographicOperations.ZeroMemory(key);
        var element = new XElement(ElementName,
            new XComment(" Encrypted with the Vault KEK (AES-256-GCM). "),
            new XElement("value", Convert.ToBase64String(sealedBytes)));
        return new EncryptedXmlInfo(element, typeof(KekXmlDecryptor));
    }

    internal static XElement Decrypt(Kek kek, XElement encryptedElement)
    {
        var sealedBytes = Convert.FromBase64String((string?)encryptedElement.Element("value")
                                                   ?? throw new CryptographicException("Encrypted key has no value."));
        if (sealedBytes.Length < 28)
        {
            throw new CryptographicException("Encrypted key is truncated.");
        }
        var key = kek.Derive("dp-key-wrap-v1");
        var plaintext = new byte[sealedBytes.Length - 28];
        try
        {
            using var aes = new AesGcm(key, 16);
            aes.Decrypt(sealedBytes.AsSpan(0, 12), sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), plaintext, Aad);
            return XElement.Parse(Encoding.UTF8.GetString(plaintext));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
            CryptographicOperations.ZeroMemory(key);
        }
    }
}

/// <summary>Created by Data Protection from the type name stored with each key.</summary>
internal sealed class KekXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement) =>
        KekXmlEncryptor.Decrypt(services.GetRequiredService<Kek>(), encryptedElement);
}
