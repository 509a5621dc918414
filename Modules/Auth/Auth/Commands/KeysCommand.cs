using System.Text.Json.Nodes;
using Payments.Auth.Tokens;
using Payments.BuildingBlocks.Commands;

namespace Payments.Auth.Commands;

/// <summary>
/// <c>keys rotate</c>: a new ES256 signing key signs from now on; the retired one stays in the JWKS and keeps
/// verifying until every token it signed has expired. Prints <c>{"kid","retired_kid"}</c>.
/// </summary>
internal sealed class KeysCommand(SigningKeyStore keys) : IHostCommand
{
    public string Verb => "keys";

    public async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        if (args is not ["rotate"])
        {
            Console.Error.WriteLine("usage: keys rotate");
            return 2;
        }
        var (kid, retired) = await keys.RotateAsync(ct);
        await stdout.WriteLineAsync(new JsonObject { ["kid"] = kid, ["retired_kid"] = retired }.ToJsonString());
        return 0;
    }
}
