using System.Globalization;
using System.Text.Json.Nodes;
using Payments.Auth.Tokens;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Commands;

namespace Payments.Auth.Commands;

/// <summary>
/// <c>keys rotate [--now]</c>: a new ES256 signing key, published in the JWKS at once and signing from
/// <c>signs_from</c>, after verifiers' JWKS caches have expired (<see cref="SigningKeyStore.PublishLead"/>); with
/// <c>--now</c> (the old key leaked) it signs at once. The key it replaces stays in the JWKS and keeps verifying until
/// every token it signed has expired. Prints <c>{"kid","retired_kid","signs_from"}</c>.
/// </summary>
internal sealed class KeysCommand(SigningKeyStore keys) : IHostCommand
{
    public string Verb => "keys";

    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        if (args is not (["rotate"] or ["rotate", "--now"]))
        {
            Console.Error.WriteLine("usage: keys rotate [--now]");
            return 2;
        }
        var (kid, retired, signsFrom) = await keys.RotateAsync(immediately: args.Count == 2, ct);
        await stdout.WriteLineAsync(new JsonObject
        {
            ["kid"] = kid,
            ["retired_kid"] = retired,
            ["signs_from"] = signsFrom.UtcDateTime.ToString(UtcTimestampConverter.Format, CultureInfo.InvariantCulture),
        }.ToJsonString());
        return 0;
    }
}
