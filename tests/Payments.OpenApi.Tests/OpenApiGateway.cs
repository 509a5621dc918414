using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Payments.OpenApi.Tests;

/// <summary>
/// The gateway as real processes (built Host and Vault, private PostgreSQL and Redis, like run.sh), one merchant,
/// and the two documents as they are served, written to a work folder for the command-line tools.
/// </summary>
public sealed class OpenApiGateway : IAsyncLifetime
{
    public GatewayProcesses Processes { get; private set; } = null!;
    public string ClientId { get; private set; } = "";
    public string ClientSecret { get; private set; } = "";
    public string HostDocument { get; private set; } = "";
    public string VaultDocument { get; private set; } = "";
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("payments-openapi-").FullName;
    public string HostDocumentPath => Path.Combine(WorkDirectory, "openapi.json");
    public string VaultDocumentPath => Path.Combine(WorkDirectory, "vault-openapi.json");

    public Uri HostUrl => Processes.HostUrl;
    public Uri VaultUrl => Processes.VaultUrl;

    public async Task InitializeAsync()
    {
        var install = Tools.EnsureInstalledAsync();
        Processes = await GatewayProcesses.StartAsync(new GatewayProcessOptions { Durable = false });
        using var created = JsonDocument.Parse(await Processes.RunHostCommandAsync("merchant", "create", "--name", "OpenAPI tests"));
        ClientId = created.RootElement.GetProperty("client_id").GetString()!;
        ClientSecret = created.RootElement.GetProperty("client_secret").GetString()!;
        using var http = new HttpClient();
        HostDocument = await http.GetStringAsync(new Uri(HostUrl, "/openapi/v1.json"));
        VaultDocument = await http.GetStringAsync(new Uri(VaultUrl, "/openapi/v1.json"));
        await File.WriteAllTextAsync(HostDocumentPath, HostDocument);
        await File.WriteAllTextAsync(VaultDocumentPath, VaultDocument);
        // For working on the document: PAYMENTS_OPENAPI_DUMP=DIR keeps a copy of both as served.
        if (Environment.GetEnvironmentVariable("PAYMENTS_OPENAPI_DUMP") is { Length: > 0 } dump)
        {
            Directory.CreateDirectory(dump);
            File.Copy(HostDocumentPath, Path.Combine(dump, "openapi.json"), overwrite: true);
            File.Copy(VaultDocumentPath, Path.Combine(dump, "vault-openapi.json"), overwrite: true);
        }
        await install;
    }

    public async Task<string> AccessTokenAsync()
    {
        using var http = new HttpClient { BaseAddress = HostUrl };
        var response = await http.PostAsJsonAsync("/v1/auth/token", new { client_id = ClientId, client_secret = ClientSecret });
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>A merchant client on <paramref name="baseUrl"/> (the Host, or a proxy in front of it).</summary>
    public async Task<HttpClient> MerchantClientAsync(Uri baseUrl)
    {
        var http = new HttpClient { BaseAddress = baseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await AccessTokenAsync());
        return http;
    }

    public async Task DisposeAsync()
    {
        if (Processes is not null)
        {
            await Processes.DisposeAsync();
        }
        try
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class OpenApiGatewayCollection : ICollectionFixture<OpenApiGateway>
{
    public const string Name = "openapi gateway";
}
