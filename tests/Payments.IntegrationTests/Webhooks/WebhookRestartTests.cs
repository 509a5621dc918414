using System.Net.Http.Headers;
using Payments.TestKit;

namespace Payments.IntegrationTests.Webhooks;

public sealed class WebhookRestartTests(WebhooksFixture gateway) : IClassFixture<WebhooksFixture>
{
    [Fact]
    public async Task Deliveries_resume_in_order_after_the_host_restarts_in_the_middle_of_one()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        IServiceProvider? current = null;
        receiver.Diagnostics = () => gateway.DescribeAsync(current);
        var inFlight = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The first attempt hangs until the Host that made it goes away.
        receiver.Respond = async (_, before, aborted) =>
        {
            if (before == 0)
            {
                inFlight.TrySetResult();
                await Task.Delay(Timeout.Infinite, aborted);
            }
            return 200;
        };
        var m = await gateway.CreateMerchantClientAsync();
        await m.CreateEndpointAsync(receiver.Url("/restart"));
        await m.AuthorizeAsync(100);
        await m.AuthorizeAsync(200);
        try
        {
            await inFlight.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException("The first delivery never started.\n" + await gateway.DescribeAsync());
        }

        await gateway.Host.DisposeAsync(); // the Host stops with delivery 1 in flight and 2 queued
        await using var restarted = gateway.NewHost();
        current = restarted.Services;
        var http = restarted.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", m.AccessToken);
        var after = m with { Http = http };
        await after.AuthorizeAsync(300);

        var all = await receiver.WaitForAsync(r => WebhookReceiver.Accepted(r, "/restart").Count >= 3, TimeSpan.FromSeconds(90));

        var accepted = WebhookReceiver.Accepted(all, "/restart");
        Assert.Equal([1L, 2, 3], accepted.Select(d => d.Sequence));
        Assert.Equal([100L, 200, 300], accepted.Select(d => d.Json.GetProperty("data").GetProperty("order_amount").GetInt64()));
    }
}
