using System.Diagnostics;
using System.Text.RegularExpressions;
using Payments.TestKit;

namespace Payments.Client.Tests.EndToEnd;

/// <summary>
/// Runs each example of docs/integration-guide.md as a child process against the gateway these tests start, the
/// way a merchant's developer would: URLs and fresh credentials in environment variables.
/// </summary>
[Collection(LiveGatewayCollection.Name)]
public sealed partial class ExamplesTests(LiveGatewayFixture gateway)
{
    public static TheoryData<string> Examples => ["curl", "node", "python", "csharp"];

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task The_example_runs_the_whole_flow_and_leaves_a_captured_refunded_payment(string example)
    {
        var keys = await gateway.CreateMerchantAsync("example-" + example);
        var refunds = gateway.HasRefundsRoute();

        var run = await RunAsync(example, keys.ClientId, keys.ClientSecret, skipRefund: !refunds);

        Assert.True(run.ExitCode == 0, $"{example} exited {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        foreach (var step in new[] { "1. token:", "2. tokenization intent tki_", "3. card posted to the Vault: SUCCEEDED", "4. authorize 1050 USD: trx_", "5. capture: CAPTURED", "6. refund", "7. list:" })
        {
            Assert.Contains(step, run.Stdout, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("4242424242424242", run.Stdout + run.Stderr, StringComparison.Ordinal);
        var trxId = DoneLine().Match(run.Stdout).Groups[1].Value;
        Assert.StartsWith("trx_", trxId, StringComparison.Ordinal);

        // The gateway, asked independently, agrees with what the example printed.
        using var client = gateway.ClientFor(keys);
        var payment = await client.GetTransactionAsync(trxId);
        Assert.Equal(1050, payment.CapturedAmount);
        Assert.Equal(refunds ? 300 : 0, payment.RefundedAmount);
        if (!refunds)
        {
            Assert.Contains("6. refund: SKIPPED", run.Stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task The_example_stops_with_a_non_zero_exit_and_the_problem_code_on_failure(string example)
    {
        var keys = await gateway.CreateMerchantAsync("example-fail-" + example);

        var run = await RunAsync(example, keys.ClientId, "wrong-secret", skipRefund: false);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("FAILED", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("invalid_client", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("2. tokenization intent", run.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task The_example_retries_a_conflict_for_now_with_the_same_key_and_never_retries_the_card_submission(string example)
    {
        await using var scripted = await ScriptedGateway.StartAsync();

        var run = await RunAsync(example, "cli_scripted", "sk_scripted", skipRefund: false, api: scripted.BaseAddress, vault: scripted.BaseAddress);

        Assert.True(run.ExitCode != 0, $"{example} exited 0\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("overloaded", run.Stderr, StringComparison.Ordinal);
        // The 409 with Retry-After is for now (ADR 135): sent again, with the same key.
        var intents = scripted.Requests.Where(r => r is { Method: "POST", Path: "/v1/tokenization-intents" }).ToList();
        Assert.Equal(2, intents.Count);
        Assert.False(string.IsNullOrEmpty(intents[0].IdempotencyKey));
        Assert.Equal(intents[0].IdempotencyKey, intents[1].IdempotencyKey);
        // A card submission is never repeated automatically, even on a 503 that says when to come back.
        Assert.Equal(1, scripted.Count("POST", "/v1/tokenization-intents/tki_01J5XC4A2B9N7K3M8Q1W6R5T0Y/card"));
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task The_example_stops_at_once_with_a_clear_message_when_the_token_route_answers_429(string example)
    {
        var keys = await gateway.RateLimitedMerchantAsync();

        // Retry-After is about 300 s here: an example that waits it out runs into this timeout.
        var run = await RunAsync(example, keys.ClientId, keys.ClientSecret, skipRefund: false, timeout: TimeSpan.FromSeconds(30));

        Assert.True(run.ExitCode != 0, $"{example} exited 0\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("FAILED", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("rate_limited", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("Retry-After", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("1. token:", run.Stdout, StringComparison.Ordinal);
    }

    private sealed record Run(int ExitCode, string Stdout, string Stderr);

    private async Task<Run> RunAsync(string example, string clientId, string clientSecret, bool skipRefund,
        Uri? api = null, Uri? vault = null, TimeSpan? timeout = null)
    {
        var root = RepositoryPaths.Root;
        var psi = example switch
        {
            "curl" => Start("bash", Path.Combine(root, "examples", "curl", "payments-flow.sh")),
            "node" => Start("node", Path.Combine(root, "examples", "node", "payments-flow.mjs")),
            "python" => Start("python3", Path.Combine(root, "examples", "python", "payments_flow.py")),
            "csharp" => Start("dotnet", CSharpExampleDll()),
            _ => throw new ArgumentOutOfRangeException(nameof(example)),
        };
        psi.Environment["PAYMENTS_API_URL"] = (api ?? gateway.Host.BaseAddress).ToString();
        psi.Environment["PAYMENTS_VAULT_URL"] = (vault ?? gateway.Vault.BaseAddress).ToString();
        psi.Environment["PAYMENTS_CLIENT_ID"] = clientId;
        psi.Environment["PAYMENTS_CLIENT_SECRET"] = clientSecret;
        psi.Environment["PAYMENTS_SKIP_REFUND"] = skipRefund ? "1" : "0";
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + psi.FileName);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(2);
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{example} did not finish in {limit.TotalSeconds} s:\n{await stdout}\n{await stderr}");
        }
        return new Run(process.ExitCode, await stdout, await stderr);
    }

    private static ProcessStartInfo Start(string file, string script) => new(file)
    {
        ArgumentList = { script },
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
        WorkingDirectory = RepositoryPaths.Root,
    };

    /// <summary>The example project is built with this one (a project reference): same configuration folder.</summary>
    private static string CSharpExampleDll()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        var dll = Path.Combine(RepositoryPaths.Root, "artifacts", "bin", "Payments.Examples", configuration, "Payments.Examples.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the solution first: the C# example is missing.", dll);
    }

    [GeneratedRegex(@"^DONE trx_id=(trx_\S+)$", RegexOptions.Multiline)]
    private static partial Regex DoneLine();
}
