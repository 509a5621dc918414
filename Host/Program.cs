using System.Globalization;
using FastEndpoints;
using JasperFx;
using JasperFx.CodeGeneration;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Commands;
using Payments.BuildingBlocks.Hosting;
using Payments.BuildingBlocks.Http;
using Payments.BuildingBlocks.Idempotency;
using Payments.BuildingBlocks.Logging;
using Payments.BuildingBlocks.Observability;
using Payments.BuildingBlocks.RateLimiting;
using Payments.Host.Health;
using Payments.Host.Pipeline;
using Payments.Vault.Client;
using Scalar.AspNetCore;
using Wolverine;

namespace Payments.Host;

public sealed partial class Program
{
    /// <summary>The merchant API's request body limit (the contract's 64 KiB).</summary>
    internal const long MaxRequestBodyBytes = 64 * 1024;

    /// <summary>The port layout (ADR 0015); <c>Listeners:Public</c> and <c>Listeners:Management</c> override it.</summary>
    internal static readonly Dictionary<ListenerRole, string> DefaultListeners = new()
    {
        [ListenerRole.Public] = "http://127.0.0.1:5080",
        [ListenerRole.Management] = "http://127.0.0.1:5081",
    };

    public static async Task<int> Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        // First of the hosted services: the host starts them in order and awaits each start, so no background work
        // (the modules' sweeps, feeds and relay, the telemetry samplers) runs before its tables exist.
        builder.Services.AddHostedService<MigrationService>();
        builder.Logging.AddRedactedConsole();
        // The Vault's host may be a metric label; a merchant's webhook host never is (ADR 120).
        builder.AddGatewayTelemetry("payments-host", builder.Configuration["Vault:BaseUrl"]);
        builder.UseGatewayListeners(DefaultListeners);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            // Kestrel answers an over-long request line itself, with a bare 414 and no problem document; the
            // documented query parameters of GET /v1/transactions fit well inside 64 KiB, so the routes answer instead.
            k.Limits.MaxRequestLineSize = 64 * 1024;
            k.AddServerHeader = false;
        });

        var services = builder.Services;
        var config = builder.Configuration;
        services.AddPaymentsPlatform(config);
        services.AddVaultClient(config);
        services.AddIdempotency(config);
        services.AddGatewayRateLimiting(config);
        foreach (var module in Modules.All)
        {
            module.AddServices(services, config);
        }

        services.AddAuthorization(); // authentication: the Auth module's bearer scheme, without Data Protection (ADR 112)
        services.AddSingleton(typeof(IRequestBinder<>), typeof(JsonBodyBinder<>)); // before FastEndpoints' own default
        services.AddFastEndpoints(o =>
        {
            o.DisableAutoDiscovery = true;
            o.Assemblies = Modules.Assemblies;
        });
        services.Configure<JsonOptions>(o => PaymentsJson.Configure(o.SerializerOptions));
        services.AddGatewayProblemDetails();
        services.AddGatewayOpenApi();
        services.AddGatewayHealthChecks();

        var writingCode = args is ["codegen", ..];
        builder.Host.UseWolverine(opts =>
        {
            // Handler code is generated ahead of time (`codegen write`, kept in Internal/Generated) and loaded as is:
            // compiling it at start-up loaded Roslyn into every Host (tens of MB resident, seconds of start-up).
            // A handler changed without regenerating stops start-up with the missing type's name.
            if (writingCode)
            {
                opts.UseRuntimeCompilation();
            }
            else
            {
                opts.CodeGeneration.TypeLoadMode = TypeLoadMode.Static;
            }
            opts.ApplicationAssembly = typeof(Program).Assembly;
            // One handler per message type: each module takes its own batch type (ADR 35), so nothing depends on
            // Wolverine running several handlers together (a mode 6.x warns about and 7.0 removes). A second
            // handler of one type stops start-up.
            opts.AssertNoCombinedHandlers();
            foreach (var assembly in Modules.Assemblies)
            {
                opts.Discovery.IncludeAssembly(assembly);
            }
        });

        var app = builder.Build();
        LiveModeChecks.Enforce(app.Configuration);

        if (writingCode)
        {
            // Wolverine's handler code, written to Internal/Generated (see ARCHITECTURE.md): `codegen write`.
            return await app.RunJasperFxCommands(args);
        }
        if (args.Length > 0 && !args[0].StartsWith('-'))
        {
            return await RunCommandAsync(app, args);
        }

        app.UseGatewayPipeline();
        await app.RunAsync();
        return 0;
    }

    /// <summary>Operator verbs (<c>merchant create --name X</c>): apply migrations, run the verb, exit.</summary>
    private static async Task<int> RunCommandAsync(WebApplication app, string[] args)
    {
        var command = app.Services.GetServices<IHostCommand>().FirstOrDefault(c => c.Verb == args[0]);
        if (command is null)
        {
            await Console.Error.WriteLineAsync($"Unknown command '{args[0]}'.");
            return 2;
        }
        await MigrationService.ApplyAllAsync(app.Services, CancellationToken.None);
        return await command.RunAsync(args[1..], Console.Out, CancellationToken.None);
    }
}

internal static class GatewayPipeline
{
    /// <summary>
    /// HEAD is GET without the content (RFC 9110 §9.3.2), so it is routed as GET; the server still knows the request
    /// was HEAD and sends the headers only. Before, every HEAD was a 405.
    /// </summary>
    private static Task RouteHeadAsGet(HttpContext http, RequestDelegate next)
    {
        if (HttpMethods.IsHead(http.Request.Method))
        {
            http.Request.Method = HttpMethods.Get;
        }
        return next(http);
    }

    /// <summary>
    /// A body must say what it is in one Content-Type that can be read, with no content coding; else 415, before any
    /// route runs. Read past, the framework took such a body for no body: a partial refund's amount was dropped and the
    /// whole payment refunded. A declared length over the limit is left to <see cref="RefuseLongBodies"/> (413 first).
    /// </summary>
    private static Task RefuseUnreadableBodies(HttpContext http, RequestDelegate next)
    {
        var request = http.Request;
        var hasBody = request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0;
        if (!hasBody || request.ContentLength > Program.MaxRequestBodyBytes || http.Items.ContainsKey(BodyTooLarge))
        {
            return next(http);
        }
        var types = request.Headers.ContentType;
        var refusal =
            types.Count == 0 || string.IsNullOrEmpty(types[0]) ? "The request body must be sent with a Content-Type (application/json)."
            : types.Count > 1 || !MediaTypeHeaderValue.TryParse(types[0], out _) ? "Send one Content-Type the gateway can read (application/json)."
            : request.Headers.ContentEncoding.Any(e => !string.Equals(e?.Trim(), "identity", StringComparison.OrdinalIgnoreCase))
                ? "Send the body without a Content-Encoding."
            : null;
        return refusal is null ? next(http) : Problems.WriteAsync(http, 415, ErrorCodes.UnsupportedMediaType, refusal);
    }

    /// <summary>
    /// A body sent without a length (chunked) is read to its end here, within the 64 KiB limit: one over the limit is
    /// then a 413 whatever else is wrong with it. Read as it is parsed, a JSON error in its first chunk would answer 400
    /// instead, or not, as the chunks happened to arrive. The limit counts the body's own bytes: Kestrel's counts the
    /// chunks' framing too (a 65,100-byte body in 1 KiB chunks was refused), so its limit is raised for these bodies.
    /// One over the limit is marked and answered by <see cref="RefuseLongBodies"/>, after the merchant's limiter, as a
    /// declared length is: so its 413 carries the limit's headers too.
    /// </summary>
    private static async Task ReadChunkedBodies(HttpContext http, RequestDelegate next)
    {
        if (http.Request.ContentLength is null && http.Request.Headers.TransferEncoding.Count > 0)
        {
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } kestrelLimit)
            {
                kestrelLimit.MaxRequestBodySize = 16 * Program.MaxRequestBodyBytes;
            }
            var body = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
            {
                if (body.Length + read > Program.MaxRequestBodyBytes)
                {
                    http.Items[BodyTooLarge] = true;
                    body.SetLength(0);
                    break;
                }
                body.Write(chunk, 0, read);
            }
            body.Position = 0;
            http.Request.Body = body;
            http.Response.RegisterForDispose(body);
        }
        await next(http);
    }

    /// <summary>
    /// No query parameter of the merchant API takes a control character (ids, dates, integers, enums): 400 naming it.
    /// .NET's number parsing ignores trailing NULs (<c>limit=1%00</c> was 1), and PostgreSQL refuses NUL in text (500).
    /// </summary>
    private static Task RefuseControlCharactersInQuery(HttpContext http, RequestDelegate next)
    {
        foreach (var (name, values) in http.Request.Query)
        {
            if (name.Any(char.IsControl) || values.Any(v => v is not null && v.Any(char.IsControl)))
            {
                var field = Problems.EchoableName(name, "query");
                return Problems.WriteAsync(http, 400, ErrorCodes.ValidationFailed, "One or more query parameters are not valid.",
                    new Dictionary<string, string[]> { [field] = ["Must not contain control characters."] });
            }
        }
        return next(http);
    }

    /// <summary>
    /// A merchant route takes only the query parameters it defines (<see cref="QueryParametersAttribute"/>); any other is
    /// 400 naming it, as an unknown body field is. The token route is left out: RFC 6749 §3.2 has a token endpoint ignore
    /// parameters it does not know.
    /// </summary>
    private static Task RefuseUnknownQueryParameters(HttpContext http, RequestDelegate next)
    {
        if (http.Request.Query.Count > 0 && http.Request.Path.StartsWithSegments("/v1")
            && http.GetEndpoint() is { } endpoint && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null)
        {
            var errors = new Dictionary<string, string[]>();
            QueryParameters.RefuseUnknown(http.Request.Query, endpoint.Metadata.GetMetadata<QueryParametersAttribute>()?.Names ?? [], errors);
            if (errors.Count > 0)
            {
                return Problems.WriteAsync(http, 400, ErrorCodes.ValidationFailed, "One or more query parameters are not valid.", errors);
            }
        }
        return next(http);
    }

    /// <summary>
    /// A path is served only as the route spells it: case-sensitive, without a trailing slash (as Stripe's). Routing alone
    /// matched <c>/V1/Payment-Intents/</c> too, and the idempotency fingerprint takes the path as sent, so a retry under
    /// another spelling was another request (422 <c>idempotency_key_reused</c>). Any other spelling is an unknown route.
    /// </summary>
    private static Task RefuseNonCanonicalPaths(HttpContext http, RequestDelegate next)
    {
        var refuse = http.GetEndpoint() switch
        {
            RouteEndpoint { RoutePattern: var pattern } => !SpellsPattern(http.Request.Path.Value ?? "", pattern, http.Request.RouteValues),
            // Routing's 405 for a path it matched only loosely (GET /v1/payment-intents/): an unknown route too.
            { } rejection when rejection.DisplayName == MethodNotAllowedEndpoint => !AnyRouteSpells(http),
            _ => false,
        };
        if (refuse)
        {
            http.SetEndpoint(null);
            http.Response.StatusCode = StatusCodes.Status404NotFound; // written as a problem by the status code pages
            return Task.CompletedTask;
        }
        return next(http);
    }

    /// <summary>The display name of the endpoint ASP.NET Core routing answers 405 with.</summary>
    private const string MethodNotAllowedEndpoint = "405 HTTP Method Not Supported";

    /// <summary>Whether some route, under any method, spells the path exactly. Runs only for a 405, so it may be slow.</summary>
    private static bool AnyRouteSpells(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        foreach (var endpoint in http.RequestServices.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var values = new RouteValueDictionary();
            if (new TemplateMatcher(new RouteTemplate(endpoint.RoutePattern), values).TryMatch(path, values)
                && SpellsPattern(path, endpoint.RoutePattern, values))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Whether <paramref name="path"/> is exactly what the pattern spells with these route values, compared part by part
    /// (this runs on every request). A pattern with optional or catch-all parts is not judged.
    /// </summary>
    private static bool SpellsPattern(string path, RoutePattern pattern, RouteValueDictionary values)
    {
        var at = 0;
        foreach (var segment in pattern.PathSegments)
        {
            if (at >= path.Length || path[at] != '/')
            {
                return false;
            }
            at++;
            foreach (var part in segment.Parts)
            {
                var text = part switch
                {
                    RoutePatternLiteralPart literal => literal.Content,
                    RoutePatternSeparatorPart separator => separator.Content,
                    RoutePatternParameterPart { IsCatchAll: false, IsOptional: false } parameter
                        when values.TryGetValue(parameter.Name, out var value) && value is not null =>
                        Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
                    _ => null,
                };
                if (text is null)
                {
                    return true;
                }
                if (!path.AsSpan(at).StartsWith(text, StringComparison.Ordinal))
                {
                    return false;
                }
                at += text.Length;
            }
        }
        return at == path.Length || (pattern.PathSegments.Count == 0 && path == "/");
    }

    /// <summary>
    /// A declared length over the limit is a 413 on every route: Kestrel refuses it only when a route reads the body,
    /// and a GET does not. After the merchant's limiter, so the answer carries its headers like any other.
    /// </summary>
    private static Task RefuseLongBodies(HttpContext http, RequestDelegate next) =>
        http.Request.ContentLength > Program.MaxRequestBodyBytes || http.Items.ContainsKey(BodyTooLarge)
            ? Problems.WriteAsync(http, 413, ErrorCodes.PayloadTooLarge, ProblemDetailsSetup.BodyTooLarge)
            : next(http);

    /// <summary>The <c>HttpContext.Items</c> mark of a chunked body over the limit (<see cref="ReadChunkedBodies"/>).</summary>
    private const string BodyTooLarge = "payments.body_too_large";

    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    /// <summary>
    /// A POST without a body sends no fields: a route whose body fields are all optional (a tokenization intent, a
    /// full refund) then does what it does with <c>{}</c>, and one with required fields names them in a 400. Left to
    /// the framework, a body-less request without a Content-Type was an empty 415, not a problem. The idempotency
    /// fingerprint is taken after this, so a retry with <c>{}</c> is the same request.
    /// </summary>
    private static Task ReadEmptyBodiesAsNoFields(HttpContext http, RequestDelegate next)
    {
        var request = http.Request;
        var empty = request.ContentLength == 0
                    || (request.ContentLength is null && (request.Headers.TransferEncoding.Count == 0 || request.Body is MemoryStream { Length: 0 }));
        if (empty && (HttpMethods.IsPost(request.Method) || HttpMethods.IsPut(request.Method) || HttpMethods.IsPatch(request.Method))
            && http.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>() is { } accepts
            && accepts.ContentTypes.Any(t => t.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)))
        {
            request.Headers.Remove(HeaderNames.TransferEncoding);
            request.ContentType = "application/json";
            request.ContentLength = EmptyObject.Length;
            request.Body = new MemoryStream(EmptyObject, writable: false);
        }
        return next(http);
    }

    public static WebApplication UseGatewayPipeline(this WebApplication app)
    {
        app.UseMiddleware<RequestIdMiddleware>();
        app.UseStandardResponseHeaders("/v1");
        app.UseHstsOffLoopback();
        app.UseExceptionHandler();
        // Every bodiless error (unknown route, 405, 415, a bare 401) gets the problem shape, whatever the Accept header.
        app.UseStatusCodePages(ctx => ProblemDetailsSetup.WriteStatusProblemAsync(ctx.HttpContext));
        app.Use(ReadChunkedBodies);
        app.Use(RefuseUnreadableBodies);
        app.Use(RouteHeadAsGet);
        app.UseRouting();
        app.Use(RefuseNonCanonicalPaths);
        app.UseListenerGate();
        // Limits and shedding come before idempotency (the contract): a 429 or 503 leaves the key free.
        app.UseAdmissionControl();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseMerchantRateLimits();
        app.Use(RefuseLongBodies);
        app.Use(RefuseControlCharactersInQuery);
        app.Use(RefuseUnknownQueryParameters);
        app.Use(ReadEmptyBodiesAsNoFields);
        app.UseMiddleware<IdempotencyMiddleware>();
        app.UseFastEndpoints(c =>
        {
            PaymentsJson.Configure(c.Serializer.Options);
            JsonRequestBodies.Configure(c);
            c.Errors.ContentType = Problems.ContentType;
            c.Errors.ResponseBuilder = ValidationProblems.Build;
        });
        app.MapOpenApi("/openapi/{documentName}.json");
        // Nothing of the page goes to a third party: no fonts from the vendor's CDN, no AI chat or MCP fed the document.
        app.MapScalarApiReference("/reference", o => o.WithTitle("Payments API").WithOpenApiRoutePattern("/openapi/{documentName}.json")
            .AddPreferredSecuritySchemes("bearer").AddHttpAuthentication("bearer", a => a.Token = "")
            .DisableDefaultFonts().DisableAgent().DisableMcp());
        app.MapErrorDocs();
        app.MapGatewayHealthChecks();
        app.MapGatewayMetrics();
        return app;
    }
}
