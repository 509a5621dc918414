using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Payments.Auth.Data;
using Payments.Auth.Features.Limits;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Commands;
using Payments.BuildingBlocks.RateLimiting;

namespace Payments.Auth.Commands;

/// <summary>
/// <c>merchant create --name NAME</c> and <c>merchant rotate-secret --client-id ID [--grace-minutes N]</c>.
/// Each prints exactly one JSON object on stdout; the secret is shown once and stored only as a hash.
/// </summary>
internal sealed class MerchantCommand(IServiceScopeFactory scopes, IOptions<AuthOptions> options) : IHostCommand
{
    private const string Usage =
        "usage: merchant create --name NAME | merchant rotate-secret --client-id ID [--grace-minutes N] | merchant set-limits --merchant-id ID --rps N [--burst N]";

    public string Verb => "merchant";

    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        if (args.Count == 0 || !TryParseFlags(args.Skip(1).ToList(), out var flags))
        {
            return Fail(Usage);
        }
        await using var scope = scopes.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<MerchantStore>();
        switch (args[0])
        {
            case "create":
                if (!flags.TryGetValue("name", out var name) || string.IsNullOrWhiteSpace(name) || name.Length > 200 || flags.Count != 1)
                {
                    return Fail("merchant create needs --name NAME (1 to 200 characters) and nothing else.");
                }
                var created = await store.CreateMerchantAsync(name.Trim(), ct);
                await stdout.WriteLineAsync(new JsonObject
                {
                    ["merchant_id"] = created.MerchantId,
                    ["client_id"] = created.ClientId,
                    ["client_secret"] = created.ClientSecret,
                }.ToJsonString());
                return 0;

            case "rotate-secret":
                if (!flags.TryGetValue("client-id", out var clientId) || flags.Keys.Any(k => k is not ("client-id" or "grace-minutes")))
                {
                    return Fail("merchant rotate-secret needs --client-id ID [--grace-minutes N].");
                }
                var grace = options.Value.SecretRotationGracePeriod;
                if (flags.TryGetValue("grace-minutes", out var minutes))
                {
                    if (!int.TryParse(minutes, NumberStyles.None, CultureInfo.InvariantCulture, out var m) || m > 60 * 24 * 30)
                    {
                        return Fail("--grace-minutes must be a whole number of minutes, at most 43200 (30 days).");
                    }
                    grace = TimeSpan.FromMinutes(m);
                }
                var rotated = await store.RotateSecretAsync(clientId, grace, ct);
                if (rotated is not { } r)
                {
                    return Fail($"No API client '{clientId}'.");
                }
                await stdout.WriteLineAsync(new JsonObject
                {
                    ["merchant_id"] = r.Credentials.MerchantId,
                    ["client_id"] = r.Credentials.ClientId,
                    ["client_secret"] = r.Credentials.ClientSecret,
                    ["previous_secret_valid_until"] = r.PreviousValidUntil.UtcDateTime.ToString(UtcTimestampConverter.Format, CultureInfo.InvariantCulture),
                }.ToJsonString());
                return 0;

            case "set-limits":
                return await SetLimitsAsync(scope.ServiceProvider.GetRequiredService<MerchantLimits>(), flags, stdout, ct);

            default:
                return Fail(Usage);
        }
    }

    private static async Task<int> SetLimitsAsync(MerchantLimits limits, Dictionary<string, string> flags, TextWriter stdout, CancellationToken ct)
    {
        const int Max = 1_000_000;
        if (!flags.TryGetValue("merchant-id", out var merchantId) || !flags.TryGetValue("rps", out var rpsText)
            || flags.Keys.Any(k => k is not ("merchant-id" or "rps" or "burst")))
        {
            return Fail("merchant set-limits needs --merchant-id ID --rps N [--burst N].");
        }
        if (!int.TryParse(rpsText, NumberStyles.None, CultureInfo.InvariantCulture, out var rps) || rps is < 1 or > Max)
        {
            return Fail($"--rps must be a whole number from 1 to {Max}.");
        }
        var burst = rps;
        if (flags.TryGetValue("burst", out var burstText)
            && (!int.TryParse(burstText, NumberStyles.None, CultureInfo.InvariantCulture, out burst) || burst is < 1 or > Max))
        {
            return Fail($"--burst must be a whole number from 1 to {Max}.");
        }
        if (!await limits.SetAsync(merchantId, new MerchantLimit(rps, burst), ct))
        {
            return Fail($"No merchant '{merchantId}'.");
        }
        await stdout.WriteLineAsync(new JsonObject
        {
            ["merchant_id"] = merchantId,
            ["rps"] = rps,
            ["burst"] = burst,
        }.ToJsonString());
        return 0;
    }

    internal static bool TryParseFlags(IReadOnlyList<string> args, out Dictionary<string, string> flags)
    {
        flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count || !flags.TryAdd(args[i][2..], args[i + 1]))
            {
                return false;
            }
        }
        return true;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 2;
    }
}
