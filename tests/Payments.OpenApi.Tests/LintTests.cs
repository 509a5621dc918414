namespace Payments.OpenApi.Tests;

/// <summary>The served documents through Redocly (recommended rules) and Spectral (spectral:oas): zero errors.</summary>
[Collection(OpenApiGatewayCollection.Name)]
public sealed class LintTests(OpenApiGateway gateway)
{
    public static TheoryData<string> Documents => new() { "host", "vault" };

    [Theory]
    [MemberData(nameof(Documents))]
    public async Task Redocly_recommended_finds_no_error(string document)
    {
        var result = await Tools.RunAsync(Tools.Bin("redocly"),
            ["lint", PathOf(document), "--extends=recommended", "--format=stylish"], Tools.Folder);

        Assert.True(result.ExitCode == 0, $"redocly lint ({document}):\n{result.Output}");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public async Task Spectral_oas_finds_no_error(string document)
    {
        var ruleset = Path.Combine(Tools.Folder, ".spectral.yaml");

        var result = await Tools.RunAsync(Tools.Bin("spectral"),
            ["lint", PathOf(document), "--ruleset", ruleset, "--fail-severity=error", "--format=text"], Tools.Folder);

        Assert.True(result.ExitCode == 0, $"spectral lint ({document}):\n{result.Output}");
    }

    private string PathOf(string document) => document == "host" ? gateway.HostDocumentPath : gateway.VaultDocumentPath;
}
