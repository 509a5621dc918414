namespace Payments.BuildingBlocks.Hosting;

public enum GatewayMode
{
    Sandbox,
    Live,
}

/// <summary>Settings under <c>Gateway</c>: the mode, and what differs between sandbox and live.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary><c>Sandbox</c> (default) or <c>Live</c>. Sandbox routes and test cards answer only in sandbox mode.</summary>
    public GatewayMode Mode { get; set; } = GatewayMode.Sandbox;

    public bool IsSandbox => Mode == GatewayMode.Sandbox;
}
