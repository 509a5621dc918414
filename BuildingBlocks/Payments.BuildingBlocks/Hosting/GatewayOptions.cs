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

    /// <summary>
    /// The merchant API's public origin (<c>https://api.example.com</c>), for the links the gateway writes into its
    /// answers (a problem's <c>type</c>). Unset, they use the request's own origin (docs/adr/0100).
    /// </summary>
    public Uri? PublicBaseUrl { get; set; }
}
