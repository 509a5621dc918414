using Payments.Vault.Audit;
using Payments.BuildingBlocks.Logging;
using Payments.Vault.Contracts;

namespace Payments.Vault.Security;

/// <summary>The endpoint takes only a call signed by the Host (for a merchant, or service-level for the feed).</summary>
internal sealed record RequireServiceTokenMetadata(bool ServiceLevel);

/// <summary>The endpoint is for anyone: health, the card-entry page, its assets, its submission, CSP reports.</summary>
internal sealed record PublicEndpointMetadata;

internal static class ServiceTokenEndpoints
{
    private static readonly PublicEndpointMetadata Public = new();

    /// <summary>Every call needs a valid Host signature naming a merchant (or, <paramref name="serviceLevel"/>, none).</summary>
    public static TBuilder RequireServiceToken<TBuilder>(this TBuilder builder, bool serviceLevel = false)
        where TBuilder : IEndpointConventionBuilder
    {
        var metadata = new RequireServiceTokenMetadata(serviceLevel);
        builder.Add(e => e.Metadata.Add(metadata));
        return builder;
    }

    /// <summary>Served without a service token. Everything not marked so is refused unless signed.</summary>
    public static TBuilder AllowUnsignedCallers<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(e => e.Metadata.Add(Public));
        return builder;
    }
}

/// <summary>
/// After routing (and the listener gate): the endpoint the request reached decides, never the path's text. An
/// endpoint marked <see cref="RequireServiceTokenMetadata"/> needs a valid Host signature; one marked
/// <see cref="PublicEndpointMetadata"/> does not; one marked neither is refused (a route someone forgot to
/// classify fails closed). Every refusal is audited with its reason, source address and route. A verified call's
/// answer is buffered and signed (<see cref="ResponseSignature"/>), bound to the call's token id.
/// </summary>
internal sealed class ServiceAuthenticationMiddleware(RequestDelegate next, ServiceAuthentication auth, AuditLog audit,
    ILogger<ServiceAuthenticationMiddleware> logger)
{
    public const string MerchantItem = "vault.merchant";

    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            await next(context); // no route: the 404 of an unknown path
            return;
        }
        var required = endpoint.Metadata.GetMetadata<RequireServiceTokenMetadata>();
        if (required is null)
        {
            // Routing's own answer to a known path with another method carries no metadata and runs no code of ours.
            if (endpoint.Metadata.GetMetadata<PublicEndpointMetadata>() is not null ||
                endpoint.DisplayName?.StartsWith("405 ", StringComparison.Ordinal) == true)
            {
                await next(context);
                return;
            }
            logger.LogError("Endpoint {Endpoint} declares neither a service token nor public access; refused", endpoint.DisplayName);
            await Refuse(context, endpoint, "unclassified_endpoint", null);
            return;
        }

        context.Request.EnableBuffering();
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        context.Request.Body.Position = 0;
        var pathAndQuery = context.Request.PathBase + context.Request.Path + context.Request.QueryString;
        var (call, failure, claimedRid) = auth.Verify(context.Request.Headers.Authorization.ToString() is { Length: > 0 } h ? h : null,
            context.Request.Method, pathAndQuery, buffer.GetBuffer().AsSpan(0, (int)buffer.Length), required.ServiceLevel);
        if (call is null)
        {
            await Refuse(context, endpoint, failure.ToString()!.ToLowerInvariant(), claimedRid);
            return;
        }

        context.Items[MerchantItem] = call.MerchantId;
        context.Items[AuditOrigin.HostRequestIdItem] = call.HostRequestId;
        using var scope = logger.BeginScope(new KeyValuePair<string, object>[] { new(LogScopes.HostRequestId, call.HostRequestId ?? "") });
        await SignedAsync(context, call);
    }

    /// <summary>Runs the endpoint into a buffer, then sends its answer with the signature bound to this call.</summary>
    private async Task SignedAsync(HttpContext context, VerifiedServiceCall call)
    {
        var original = context.Response.Body;
        using var body = new MemoryStream();
        context.Response.Body = body; // nothing reaches the Host before the signature is in the headers
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }
        // The access record of every verified call (PCI DSS 10.2.1): which route, for whom, with what outcome. The
        // Host's request id comes from the scope (request_id), so its line and this one are found together.
        // The tokenization feed's polls (service-level, several a second when idle) only at Debug; its pages that
        // disclose rows are audited instead.
        logger.Log(call.MerchantId.Length == 0 ? LogLevel.Debug : LogLevel.Information,
            "Service call {Method} {Route} for {Merchant} answered {Status}", context.Request.Method,
            (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText, call.MerchantId.Length == 0 ? "(service)" : call.MerchantId,
            context.Response.StatusCode);
        var bytes = body.GetBuffer().AsMemory(0, (int)body.Length);
        context.Response.Headers[ResponseSignature.HeaderName] =
            ResponseSignature.Sign(call.ResponseKey, call.Jti, context.Response.StatusCode, bytes.Span);
        if (bytes.Length == 0)
        {
            // A 204 (or any empty answer) must not be written to at all: Kestrel refuses even an empty write on a
            // 204 once the response started, and the Host then sees a broken connection instead of the answer.
            return;
        }
        context.Response.ContentLength = bytes.Length;
        await original.WriteAsync(bytes, context.RequestAborted);
    }

    private async Task Refuse(HttpContext context, Endpoint endpoint, string reason, string? claimedRid)
    {
        var route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint.DisplayName;
        logger.LogWarning("Service call refused: {Reason} on {Route}", reason, route);
        // Audited before the answer: a refused call is on record even if the caller hangs up.
        await audit.AppendAsync("service_auth.refused", null, null, new Dictionary<string, object?>
        {
            ["reason"] = reason,
            ["method"] = context.Request.Method,
            ["route"] = route,
            // Only from a token whose signature held (a replay or a mismatch); a forged one's claims are not recorded.
            ["claimed_request_id"] = claimedRid,
        });
        await VaultResults.Problem(401, "unauthorized", "The call is not signed by the Host, or its signature was already used.")
            .ExecuteAsync(context);
    }
}

internal static class MerchantContext
{
    /// <summary>The merchant the verified Host signature names; routes that act for a merchant require one.</summary>
    public static string Merchant(this HttpContext context) =>
        context.Items[ServiceAuthenticationMiddleware.MerchantItem] as string is { Length: > 0 } m
            ? m
            : throw new InvalidOperationException("No signed merchant on this call.");
}
