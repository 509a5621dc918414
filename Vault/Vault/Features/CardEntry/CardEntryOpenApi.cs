using Payments.Vault.Security;

namespace Payments.Vault.Features.CardEntry;

/// <summary>
/// The Vault's own OpenAPI document at <c>/openapi/v1.json</c>: its one route a merchant calls directly, the JSON card
/// post of a PCI-scoped server. Written by hand (the route reads its body itself, so no generator could describe it);
/// tests/Payments.OpenApi.Tests lints it and checks the route's answers against it.
/// </summary>
internal static class CardEntryOpenApi
{
    public static IEndpointRouteBuilder MapCardEntryOpenApi(this IEndpointRouteBuilder app)
    {
        // Public, like the card route it describes: served on the public listener to unsigned callers.
        app.MapGet("/openapi/v1.json", () => Results.Text(Document, "application/json")).AllowUnsignedCallers();
        return app;
    }

    internal const string Document = """
        {
          "openapi": "3.1.1",
          "info": {
            "title": "Payments Vault: card submission",
            "version": "v1",
            "description": "The Vault's public card route. Only a PCI DSS-scoped merchant server posts card data here; everyone else opens the intent's card_entry_url in the cardholder's browser. The route lives on the same origin as card_entry_url.",
            "license": { "name": "Proprietary", "identifier": "LicenseRef-Proprietary" }
          },
          "servers": [ { "url": "/", "description": "The Vault's public origin (the origin of card_entry_url)" } ],
          "tags": [ { "name": "Tokenization", "description": "Posting a card to a tokenization intent created on the merchant API." } ],
          "security": [],
          "paths": {
            "/v1/tokenization-intents/{id}/card": {
              "post": {
                "operationId": "submitCard",
                "tags": [ "Tokenization" ],
                "summary": "Submit a card to a tokenization intent",
                "description": "The intent's client_secret is the credential: no bearer token. 201 with the intent as SUCCEEDED; a refused card answers 400 with errors by field, and after 5 refused cards the intent is FAILED. Neither the number nor the CVC is ever echoed.",
                "security": [],
                "parameters": [
                  { "name": "id", "in": "path", "required": true, "description": "The tokenization intent's id (tki_...).", "schema": { "type": "string", "pattern": "^tki_[0-9A-Za-z]+$" }, "example": "tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y" }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": { "$ref": "#/components/schemas/CardSubmission" },
                      "example": { "client_secret": "tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y_secret_9XkQ2mW7pL4v", "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder_name": "Jane Doe" }
                    }
                  }
                },
                "responses": {
                  "201": {
                    "description": "The card is stored; the intent is SUCCEEDED.",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/SubmittedIntent" },
                      "example": { "id": "tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y", "status": "SUCCEEDED", "card_token": "tok_01J5XC5Z7D3K9M2N8Q4W1R6T0P", "card": { "brand": "VISA", "last4": "4242", "exp_month": 12, "exp_year": 2030, "fingerprint": "fp_3n8Q1vX7kL2m" }, "return_url": null, "metadata": { "order": "7f3a9c" }, "expires_at": "2024-03-01T12:30:00Z", "created_at": "2024-03-01T12:00:00Z" } } }
                  },
                  "400": { "$ref": "#/components/responses/Invalid" },
                  "404": { "$ref": "#/components/responses/NotFound" },
                  "409": { "$ref": "#/components/responses/Closed" },
                  "413": { "$ref": "#/components/responses/TooLarge" },
                  "415": { "$ref": "#/components/responses/UnsupportedMediaType" },
                  "429": { "$ref": "#/components/responses/RateLimited" },
                  "503": { "$ref": "#/components/responses/Unavailable" }
                }
              }
            }
          },
          "components": {
            "schemas": {
              "CardSubmission": {
                "type": "object",
                "additionalProperties": false,
                "required": [ "client_secret", "number", "exp_month", "exp_year", "cvc" ],
                "properties": {
                  "client_secret": { "type": "string", "description": "The intent's client_secret." },
                  "number": { "type": "string", "pattern": "^[0-9 ]{12,23}$", "description": "The card number, digits (spaces ignored)." },
                  "exp_month": { "type": "integer", "minimum": 1, "maximum": 12 },
                  "exp_year": { "type": "integer", "minimum": 1000, "maximum": 9999 },
                  "cvc": { "type": "string", "pattern": "^[0-9]{3,4}$" },
                  "holder_name": { "type": [ "string", "null" ] }
                }
              },
              "SubmittedIntent": {
                "type": "object",
                "description": "The intent as the Host's GET /v1/tokenization-intents/{id} shows it.",
                "required": [ "id", "status", "card_token", "card", "return_url", "metadata", "expires_at", "created_at" ],
                "properties": {
                  "id": { "type": "string" },
                  "status": { "type": "string", "enum": [ "SUCCEEDED" ] },
                  "card_token": { "type": "string" },
                  "card": {
                    "type": "object",
                    "required": [ "brand", "last4", "exp_month", "exp_year", "fingerprint" ],
                    "properties": {
                      "brand": { "type": "string" },
                      "last4": { "type": "string", "pattern": "^[0-9]{4}$" },
                      "exp_month": { "type": "integer" },
                      "exp_year": { "type": "integer" },
                      "fingerprint": { "type": "string" }
                    }
                  },
                  "return_url": { "type": [ "string", "null" ] },
                  "metadata": { "type": "object", "additionalProperties": { "type": "string" } },
                  "expires_at": { "type": "string", "format": "date-time" },
                  "created_at": { "type": "string", "format": "date-time" }
                }
              },
              "Problem": {
                "type": "object",
                "description": "RFC 9457 problem with a stable code.",
                "required": [ "title", "status", "code" ],
                "properties": {
                  "type": { "type": "string", "format": "uri-reference" },
                  "title": { "type": "string" },
                  "status": { "type": "integer" },
                  "detail": { "type": "string" },
                  "instance": { "type": "string" },
                  "code": { "type": "string", "x-extensible-enum": [ "validation_failed", "not_found", "unsupported_media_type", "payload_too_large", "rate_limited", "intent_succeeded", "intent_expired", "intent_failed", "overloaded", "service_unavailable" ] },
                  "errors": { "type": "object", "additionalProperties": { "type": "array", "items": { "type": "string" } } },
                  "request_id": { "type": "string", "description": "The answer's Request-Id header, to quote to support." }
                }
              }
            },
            "headers": {
              "Retry-After": { "description": "Seconds to wait before trying again.", "schema": { "type": "integer", "minimum": 0 } }
            },
            "responses": {
              "Invalid": { "description": "The body is not the documented JSON object, or the card is refused (errors by field).", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" }, "example": { "title": "The request is not valid", "status": 400, "detail": "The card data is not valid.", "code": "validation_failed", "errors": { "number": [ "The card number is not valid." ] } } } } },
              "NotFound": { "description": "Unknown intent, or a wrong client_secret.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" }, "example": { "title": "Not found", "status": 404, "detail": "The tokenization intent was not found.", "code": "not_found" } } } },
              "Closed": { "description": "The intent already has a card (intent_succeeded), has expired (intent_expired) or failed after too many refused cards (intent_failed).", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" }, "example": { "title": "Conflict", "status": 409, "detail": "The tokenization intent has expired.", "code": "intent_expired" } } } },
              "TooLarge": { "description": "The body is larger than 16 KiB.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" }, "example": { "title": "Request body too large", "status": 413, "detail": "The body is larger than 16 KiB.", "code": "payload_too_large" } } } },
              "UnsupportedMediaType": { "description": "Neither application/json nor a form.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" }, "example": { "title": "Unsupported media type", "status": 415, "detail": "Send application/json or a form.", "code": "unsupported_media_type" } } } },
              "RateLimited": { "description": "Too many card submissions for the merchant.", "headers": { "Retry-After": { "$ref": "#/components/headers/Retry-After" } }, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" }, "example": { "title": "Too many requests", "status": 429, "detail": "Too many card submissions.", "code": "rate_limited" } } } },
              "Unavailable": { "description": "The Vault is at capacity (overloaded) or cannot reach its database (service_unavailable). Do not retry automatically: let the cardholder submit again after Retry-After, or make a new intent. An intent whose card was stored after all answers 409 intent_succeeded, never a second token.", "headers": { "Retry-After": { "$ref": "#/components/headers/Retry-After" } }, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" }, "example": { "title": "Service unavailable", "status": 503, "detail": "The card vault cannot reach its database; retry shortly.", "code": "service_unavailable" } } } }
            }
          }
        }
        """;
}
