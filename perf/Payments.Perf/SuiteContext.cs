using System.Text.Json.Nodes;
using Payments.Perf.Api;
using Payments.TestKit;

namespace Payments.Perf;

/// <summary>What the scenarios share: the running gateway, the API client, the options and a log.</summary>
internal sealed class SuiteContext(GatewayProcesses gateway, GatewayApi api, PerfOptions options, TextWriter log)
{
    private static readonly SemaphoreSlim OperatorGate = new(3, 3);
    private int merchantCount;

    public GatewayProcesses Gateway { get; } = gateway;

    public GatewayApi Api { get; } = api;

    public PerfOptions Options { get; } = options;

    public TextWriter Log { get; } = log;

    /// <summary>Creates a merchant with the operator verb (as ./run.sh merchant create does), signs in, tokenizes cards.</summary>
    public async Task<Merchant> CreateMerchantAsync(string scenario, int cards)
    {
        var name = $"perf-{scenario}-{Interlocked.Increment(ref merchantCount)}";
        string stdout;
        // Each verb boots the Host binary; a few at a time keeps two cores from thrashing.
        await OperatorGate.WaitAsync();
        try
        {
            stdout = await Gateway.RunHostCommandAsync("merchant", "create", "--name", name);
        }
        finally
        {
            OperatorGate.Release();
        }
        var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'))
                   ?? throw new InvalidOperationException("merchant create printed no JSON object.");
        var json = JsonNode.Parse(line)!;
        var merchant = await Api.SignInAsync(
            json["merchant_id"]!.GetValue<string>(), json["client_id"]!.GetValue<string>(), json["client_secret"]!.GetValue<string>());
        string[] numbers = ["4242424242424242", "5555555555554444"];
        for (var i = 0; i < cards; i++)
        {
            merchant.CardTokens.Add(await Api.TokenizeCardAsync(merchant, numbers[i % numbers.Length]));
        }
        return merchant;
    }

    public async Task<List<Merchant>> CreateMerchantsAsync(string scenario, int count, int cards) =>
        [.. await Task.WhenAll(Enumerable.Range(0, count).Select(_ => CreateMerchantAsync(scenario, cards)))];
}
