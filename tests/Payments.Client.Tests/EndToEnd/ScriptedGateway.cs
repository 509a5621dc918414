using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Payments.Client.Tests.EndToEnd;

/// <summary>
/// A stand-in for the Host and the Vault on one loopback port, answering what the real gateway answers only by
/// chance of timing (a 409 for now, a shed card submission), and recording every request it got.
/// </summary>
internal sealed class ScriptedGateway : IAsyncDisposable
{
    private readonly WebApplication app;
    private int intents;

    private ScriptedGateway(WebApplication app) => this.app = app;

    public sealed record Seen(string Method, string Path, string? IdempotencyKey);

    public ConcurrentQueue<Seen> Requests { get; } = new();

    public Uri BaseAddress => new(app.Urls.First() + "/");

    /// <summary>
    /// The token; then a tokenization intent refused once with 409 <c>invalid_state</c> and <c>Retry-After: 1</c>
    /// (as an intent another request is confirming is), created on the next try; then the Vault sheds the card
    /// submission with 503 <c>overloaded</c> and <c>Retry-After: 1</c>, every time.
    /// </summary>
    public static async Task<ScriptedGateway> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var gateway = new ScriptedGateway(app);
        app.Run(gateway.AnswerAsync);
        await app.StartAsync();
        return gateway;
    }

    public int Count(string method, string path) => Requests.Count(r => r.Method == method && r.Path == path);

    private async Task AnswerAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        Requests.Enqueue(new Seen(http.Request.Method, path, http.Request.Headers["Idempotency-Key"].FirstOrDefault()));
        switch (http.Request.Method, path)
        {
            case ("POST", "/v1/auth/token"):
                await JsonAsync(http, 200, """{"access_token":"scripted-token","token_type":"Bearer","expires_in":900}""");
                break;
            case ("POST", "/v1/tokenization-intents") when Interlocked.Increment(ref intents) == 1:
                await ProblemAsync(http, 409, "invalid_state", retryAfter: 1);
                break;
            case ("POST", "/v1/tokenization-intents"):
                await JsonAsync(http, 201, $$"""
                    {"id":"tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y","status":"REQUIRES_CARD","client_secret":"tki_secret_scripted",
                     "card_entry_url":"{{BaseAddress}}card-entry/tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y","expires_at":"2030-01-01T00:00:00Z"}
                    """);
                break;
            case ("POST", "/v1/tokenization-intents/tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y/card"):
                await ProblemAsync(http, 503, "overloaded", retryAfter: 1);
                break;
            default:
                await ProblemAsync(http, 404, "not_found", retryAfter: null);
                break;
        }
    }

    private static Task JsonAsync(HttpContext http, int status, string json)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = status >= 400 ? "application/problem+json" : "application/json";
        return http.Response.WriteAsync(json);
    }

    private static Task ProblemAsync(HttpContext http, int status, string code, int? retryAfter)
    {
        if (retryAfter is { } seconds)
        {
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return JsonAsync(http, status, $$"""{"type":"about:blank","title":"t","status":{{status}},"detail":"scripted","code":"{{code}}","request_id":"req_scripted"}""");
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
