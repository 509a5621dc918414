using Newtonsoft.Json.Linq;
using Snapshooter.Xunit;

namespace Payments.OpenApi.Tests;

/// <summary>
/// The served documents against their snapshots in __snapshots__: every change to the public surface shows in review.
/// After an intended change, delete the snapshot file and run the test again to write the new one.
/// </summary>
[Collection(OpenApiGatewayCollection.Name)]
public sealed class SnapshotTests(OpenApiGateway gateway)
{
    [Fact]
    public void The_merchant_api_document_matches_its_snapshot() =>
        Snapshot.Match(JToken.Parse(gateway.HostDocument));

    [Fact]
    public void The_vault_document_matches_its_snapshot() =>
        Snapshot.Match(JToken.Parse(gateway.VaultDocument));
}
