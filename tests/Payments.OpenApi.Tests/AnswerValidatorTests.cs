using System.Net;
using System.Text;

namespace Payments.OpenApi.Tests;

/// <summary>The TestKit's answer validator (hooked into every in-process merchant client) refuses what the document does not allow.</summary>
[Collection(OpenApiGatewayCollection.Name)]
public sealed class AnswerValidatorTests(OpenApiGateway gateway)
{
    [Theory]
    [InlineData(404, "application/problem+json", """{"type":"http://x/docs/errors#not_found","title":"t","status":404,"detail":"d","code":"not_found"}""", true)]
    [InlineData(404, "application/problem+json", """{"title":"t","status":404}""", false)]
    [InlineData(200, "application/json", """{"trx_id":"trx_1"}""", false)]
    [InlineData(418, "application/problem+json", """{"type":"http://x/docs/errors#x","title":"t","status":418,"code":"x"}""", false)]
    public async Task Answers_are_checked_against_the_document(int status, string media, string body, bool allowed)
    {
        using var http = new HttpClient(new OpenApiAnswerValidator(() => Task.FromResult(gateway.HostDocument))
        {
            InnerHandler = new Fixed((HttpStatusCode)status, media, body),
        }) { BaseAddress = new Uri("http://gateway.test") };

        var call = http.GetAsync("/v1/transactions/trx_01J5XCMDXCFXCAQ1BV8HVG6644");

        if (allowed)
        {
            Assert.Equal(status, (int)(await call).StatusCode);
        }
        else
        {
            await Assert.ThrowsAsync<OpenApiViolationException>(() => call);
        }
    }

    private sealed class Fixed(HttpStatusCode status, string media, string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, media) });
    }
}
