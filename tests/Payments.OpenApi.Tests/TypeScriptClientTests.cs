using System.Text.Json;

namespace Payments.OpenApi.Tests;

/// <summary>
/// A TypeScript client generated from the served documents (openapi-typescript types, openapi-fetch calls) compiles
/// with <c>tsc --strict</c> and runs the whole flow against the real gateway (tools/openapi/ts-client/flow.mts).
/// </summary>
[Collection(OpenApiGatewayCollection.Name)]
public sealed class TypeScriptClientTests(OpenApiGateway gateway)
{
    private static readonly string ClientFolder = Path.Combine(Tools.Folder, "ts-client");

    [Fact]
    public async Task Generated_typescript_client_runs_the_flow_against_the_gateway()
    {
        var generated = Path.Combine(ClientFolder, "generated");
        Directory.CreateDirectory(generated);
        await Succeed(Tools.Bin("openapi-typescript"), gateway.HostDocumentPath, "-o", Path.Combine(generated, "payments.d.ts"));
        await Succeed(Tools.Bin("openapi-typescript"), gateway.VaultDocumentPath, "-o", Path.Combine(generated, "vault.d.ts"));
        await Succeed(Tools.Bin("tsc"), "-p", Path.Combine(ClientFolder, "tsconfig.json"));

        var run = await Tools.RunAsync("node", [Path.Combine(ClientFolder, "out", "flow.mjs")], ClientFolder, TimeSpan.FromMinutes(2),
            new Dictionary<string, string>
            {
                ["PAYMENTS_URL"] = gateway.HostUrl.ToString().TrimEnd('/'),
                ["VAULT_URL"] = gateway.VaultUrl.ToString().TrimEnd('/'),
                ["CLIENT_ID"] = gateway.ClientId,
                ["CLIENT_SECRET"] = gateway.ClientSecret,
            });

        Assert.True(run.ExitCode == 0, "flow.mjs failed:\n" + run.Output);
        using var result = JsonDocument.Parse(run.Output.Trim().Split('\n')[^1]);
        var r = result.RootElement;
        GeneratedClientFlow.AssertCompleted(r);
        Assert.EndsWith("/docs/errors#not_found", r.GetProperty("error_type").GetString(), StringComparison.Ordinal);
    }

    private static async Task Succeed(string file, params string[] args)
    {
        var result = await Tools.RunAsync(file, args, ClientFolder);
        Assert.True(result.ExitCode == 0, $"{Path.GetFileName(file)} {string.Join(' ', args)}:\n{result.Output}");
    }
}
