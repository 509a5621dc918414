using Microsoft.OpenApi;
using Payments.BuildingBlocks.Idempotency;

namespace Payments.Host.Pipeline;

internal static class OpenApiSetup
{
    /// <summary>The OpenAPI 3 document at <c>/openapi/v1.json</c>, built from the endpoints' own metadata.</summary>
    public static IServiceCollection AddGatewayOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", o =>
        {
            o.AddDocumentTransformer((doc, _, _) =>
            {
                doc.Info = new OpenApiInfo
                {
                    Title = "Payments API",
                    Version = "v1",
                    Description = "The merchant API of the payment gateway. Amounts are integers in the currency's minor unit; " +
                                  "errors are RFC 9457 problems with a stable `code` (every code is described at /docs/errors). " +
                                  "Get a token with POST /v1/auth/token, then send it as `Authorization: Bearer <token>`. " +
                                  "Card data goes only to the Vault, which publishes its own document for its card route.",
                    License = new OpenApiLicense { Name = "Proprietary", Identifier = "LicenseRef-Proprietary" },
                    Contact = new OpenApiContact { Name = "Payments API support" },
                };
                doc.Components ??= new OpenApiComponents();
                doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                doc.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = "An access token from POST /v1/auth/token.",
                };
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                // The contract's Idempotency-Key, on every route that honours it.
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<IdempotentAttribute>().Any())
                {
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = "Idempotency-Key",
                        In = ParameterLocation.Header,
                        Required = false,
                        Description = "1 to 255 printable ASCII characters, per merchant. The first final answer is replayed " +
                                      "with Idempotent-Replayed: true; a different request with the key answers 422, one still running 409.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String, MinLength = 1, MaxLength = 255, Pattern = OpenApiContract.PrintableAscii },
                    });
                }
                return Task.CompletedTask;
            });
            o.AddDocumentTransformer((doc, _, _) =>
            {
                OpenApiContract.Apply(doc);
                return Task.CompletedTask;
            });
            o.AddContractExamples();
        });
}
