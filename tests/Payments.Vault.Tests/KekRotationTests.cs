using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Payments.TestKit;
using Payments.Vault.Cards;
using Payments.Vault.Commands;
using Payments.Vault.Contracts;
using Payments.Vault.Crypto;

namespace Payments.Vault.Tests;

/// <summary>A Vault that reads its KEK from one file per custodian (mode 0600), as run.sh starts it.</summary>
public sealed class KekFileFixture : VaultFixture
{
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "kek-" + Guid.NewGuid().ToString("N"));
    public List<byte[]> Components { get; } = [];

    protected override void ConfigureVault(Dictionary<string, string?> settings)
    {
        base.ConfigureVault(settings);
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var name in new[] { "Vault:Kek:Components:0", "Vault:Kek:Components:1" })
        {
            Components.Add(Convert.FromBase64String(settings[name]!));
            settings.Remove(name);
        }
        foreach (var (path, i) in WriteComponents("custodian", Components).Select((p, i) => (p, i)))
        {
            settings[$"Vault:Kek:ComponentFiles:{i}"] = path;
        }
    }

    /// <summary>Writes each component to its own 0600 file; returns the paths.</summary>
    public List<string> WriteComponents(string prefix, IEnumerable<byte[]> components) =>
        components.Select((c, i) =>
        {
            var path = Path.Combine(Directory, $"{prefix}-{i + 1}.key");
            File.WriteAllText(path, Convert.ToBase64String(c) + "\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            return path;
        }).ToList();

    /// <summary>The fixture's Vault settings with another set of component files.</summary>
    public Dictionary<string, string?> SettingsWith(IReadOnlyList<string> componentFiles)
    {
        var settings = VaultSettings.Where(kv => !kv.Key.StartsWith("Vault:Kek:", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        for (var i = 0; i < componentFiles.Count; i++)
        {
            settings[$"Vault:Kek:ComponentFiles:{i}"] = componentFiles[i];
        }
        return settings;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

public sealed class KekRotationTests(KekFileFixture vault) : IClassFixture<KekFileFixture>
{
    private const string Number = "4242424242424242";

    [Fact]
    public async Task Kek_rotation_rewraps_every_key_keeps_cards_and_fingerprints_and_refuses_the_old_kek_afterwards()
    {
        var first = VaultFixture.NewMerchant();
        var second = VaultFixture.NewMerchant();
        var tokens = new[]
        {
            (first, await vault.TokenizeAsync(first, Number)), (second, await vault.TokenizeAsync(second, Number)),
            (second, await vault.TokenizeAsync(second, "5555555555554444")),
        };
        // Before this change fingerprints came from a root derived from the KEK: the stored ones are exactly those.
        var beforeChange = FingerprintTheOldWay(vault.Components, first, Number);
        Assert.Equal(beforeChange, await FingerprintOfAsync(tokens[0].Item2));
        Assert.Equal(FingerprintTheOldWay(vault.Components, second, Number), await FingerprintOfAsync(tokens[1].Item2));
        var rootRow = await vault.ScalarAsync<byte[]>("SELECT wrapped FROM vault.wrapped_keys WHERE purpose = 'fingerprint-root'");
        Assert.NotNull(rootRow);
        Assert.Equal(1, await vault.ScalarAsync<int>("SELECT version FROM vault.kek_versions WHERE retired_at IS NULL"));

        // The ceremony, through the verb: three custodians, each with their own file.
        var newComponents = Enumerable.Range(0, 3).Select(_ => RandomNumberGenerator.GetBytes(32)).ToList();
        var newFiles = vault.WriteComponents("rotated", newComponents);
        var stdout = new StringWriter();
        var code = await VaultCommands.RunAsync(vault.Vault.Services,
            ["kek", "rotate", .. newFiles.SelectMany(f => new[] { "--component-file", f })], stdout, CancellationToken.None);

        Assert.Equal(0, code);
        var printed = JsonDocument.Parse(stdout.ToString()).RootElement;
        Assert.Equal(2, printed.GetProperty("kek_version").GetInt32());
        Assert.Equal(newComponents.Select(Kcv), printed.GetProperty("component_kcvs").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(Kcv(Xor(newComponents)), printed.GetProperty("kek_kcv").GetString());
        Assert.DoesNotContain(Convert.ToBase64String(newComponents[0]), stdout.ToString(), StringComparison.Ordinal);
        Assert.Equal(0L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.wrapped_keys WHERE destroyed_at IS NULL AND kek_version <> 2"));
        Assert.Equal(0L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.data_protection_keys WHERE kek_version <> 2"));
        Assert.Equal(Kcv(Xor(newComponents)), await vault.ScalarAsync<string>("SELECT check_value FROM vault.kek_versions WHERE retired_at IS NULL"));
        Assert.NotNull(await vault.ScalarAsync<DateTime?>("SELECT retired_at FROM vault.kek_versions WHERE version = 1"));
        Assert.NotEqual(rootRow, await vault.ScalarAsync<byte[]>("SELECT wrapped FROM vault.wrapped_keys WHERE purpose = 'fingerprint-root'"));
        Assert.Equal(1L, await vault.ScalarAsync<long>("SELECT count(*) FROM vault.audit_log WHERE action = 'kek.rotated'"));

        // The Vault still running the old KEK keeps serving the cards it has keys for until it is restarted.
        vault.Vault.Services.GetRequiredService<CardKeyRing>().Invalidate();
        Assert.True((await vault.Vault.Services.GetRequiredService<CardVault>().AuthorizeAsync(
            first, new AcquirerRequest(tokens[0].Item2, 100, "USD", "trx_o"), CancellationToken.None)).CardFound);

        // The Vault restarted with the new components: every card decrypts, fingerprints are those of before.
        await using (var restarted = new VaultFactory(vault.SettingsWith(newFiles)))
        {
            _ = restarted.Server;
            var cards = restarted.Services.GetRequiredService<CardVault>();
            foreach (var (merchant, token) in tokens)
            {
                var outcome = await cards.AuthorizeAsync(merchant, new AcquirerRequest(token, 100, "USD", "trx_k"), CancellationToken.None);
                Assert.True(outcome.CardFound);
            }
            Assert.Equal(beforeChange, restarted.Services.GetRequiredService<Fingerprints>().Of(first, Number));
        }

        // The retired KEK, or a wrong component, is refused at start.
        foreach (var files in new[] { vault.WriteComponents("old", vault.Components), vault.WriteComponents("wrong", [newComponents[0], newComponents[1], RandomNumberGenerator.GetBytes(32)]) })
        {
            var e = await StartupFailure.OfAsync(() => new VaultFactory(vault.SettingsWith(files)));
            Assert.Contains("does not match KEK version 2", e.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_component_file_other_users_can_read_is_refused()
    {
        var files = vault.WriteComponents("loose", [RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32)]);
        Assert.False(OperatingSystem.IsWindows(), "the Vault runs on Linux");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(files[1], UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        var e = await StartupFailure.OfAsync(() => new VaultFactory(vault.SettingsWith(files)));

        Assert.Contains("readable by other OS users", e.ToString(), StringComparison.Ordinal);
    }

    private Task<string?> FingerprintOfAsync(string token) =>
        vault.ScalarAsync<string>("SELECT fingerprint FROM vault.cards WHERE token = $1", token);

    /// <summary>The fingerprint as the Vault computed it before the root became a wrapped key.</summary>
    private static string FingerprintTheOldWay(IReadOnlyList<byte[]> components, string merchantId, string number)
    {
        var root = HKDF.DeriveKey(HashAlgorithmName.SHA256, Xor(components), 32, salt: Encoding.UTF8.GetBytes("payments-vault-kek-v1"),
            info: Encoding.UTF8.GetBytes("card-fingerprint-root-v1"));
        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, root, 32, salt: [], info: Encoding.UTF8.GetBytes("merchant:" + merchantId));
        var mac = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(number));
        return Convert.ToBase64String(mac, 0, 16).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static byte[] Xor(IReadOnlyList<byte[]> components)
    {
        var kek = new byte[32];
        foreach (var c in components)
        {
            for (var i = 0; i < 32; i++)
            {
                kek[i] ^= c[i];
            }
        }
        return kek;
    }

    /// <summary>AES-256-ECB of a zero block, first three bytes in hex: computed here independently of the Vault.</summary>
    private static string Kcv(byte[] key)
    {
        using var aes = Aes.Create();
        aes.Key = key;
        return Convert.ToHexString(aes.EncryptEcb(new byte[16], PaddingMode.None)[..3]);
    }
}
