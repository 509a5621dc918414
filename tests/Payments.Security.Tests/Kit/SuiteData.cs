namespace Payments.Security.Tests.Kit;

/// <summary>
/// Two merchants and merchant A's objects of every kind the routes take in their paths, made once per run
/// through the public API. The card numbers and CVCs used are known to the leak scan.
/// </summary>
internal sealed class SuiteData
{
    public const string ApprovedPan = "4242424242424242";
    public const string OtherPan = "5555555555554444";
    public const string DeclinedPan = "4000000000000002";

    // Four digits that appear in nothing else the suites send, so the scan can look for them anywhere.
    public const string CvcA = "7391";
    public const string CvcB = "8462";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static SuiteData? data;

    public required SecurityGateway Gateway { get; init; }
    public required SuiteMerchant A { get; init; }
    public required SuiteMerchant B { get; init; }

    /// <summary>Merchant A's IDs by prefix (<c>trx</c>, <c>pi</c>, <c>tki</c>, <c>tok</c>, …).</summary>
    public required IReadOnlyDictionary<string, string> IdsOfA { get; init; }

    public static IEnumerable<string> KnownPans => [ApprovedPan, OtherPan, DeclinedPan, .. HostileRequests.PlantedPans];
    public static IEnumerable<string> KnownCvcs => [CvcA, CvcB];

    public static async Task<SuiteData> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return data ??= await CreateAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    private static async Task<SuiteData> CreateAsync()
    {
        var gateway = await SecurityGateway.SharedAsync();
        var a = await Merchants.CreateAsync(gateway, "Security Suite A");
        var b = await Merchants.CreateAsync(gateway, "Security Suite B");
        var ids = new Dictionary<string, string> { ["mer"] = a.MerchantId };
        using var http = gateway.HostClient(a.AccessToken);
        var (operations, _) = await OpenApiOperations.ReadAsync(http);
        bool Has(string method, string path) => operations.Any(o => o.Method == method && o.PathTemplate == path);
        // Objects are made for the routes the gateway has; a route that exists and fails to make one fails the run.
        if (!Has("POST", "/v1/tokenization-intents"))
        {
            return new SuiteData { Gateway = gateway, A = a, B = b, IdsOfA = ids };
        }

        var card = await Merchants.TokenizeAsync(gateway, a, ApprovedPan, CvcA);
        ids["tok"] = card.Token;
        ids["tki"] = card.TokenizationIntentId;
        // B has a card of its own, with the same number: fingerprints and tokens must not cross merchants.
        _ = await Merchants.TokenizeAsync(gateway, b, ApprovedPan, CvcB);

        if (Has("POST", "/v1/payment-intents"))
        {
            var intent = await Json.SendAsync(http, HttpMethod.Post, "/v1/payment-intents", new Dictionary<string, object>
            {
                ["amount"] = 2_500,
                ["currency"] = "EUR",
                ["order_id"] = "security-suite-intent",
                ["card_token"] = card.Token,
            });
            intent.ExpectStatus(201);
            ids["pi"] = intent.String("id");
        }
        if (!Has("POST", "/v1/transactions"))
        {
            return new SuiteData { Gateway = gateway, A = a, B = b, IdsOfA = ids };
        }

        var payment = await Json.SendAsync(http, HttpMethod.Post, "/v1/transactions", new Dictionary<string, object>
        {
            ["operation"] = "authcap",
            ["amount"] = 4_000,
            ["currency"] = "EUR",
            ["card_token"] = card.Token,
            ["order_id"] = "security-suite-order",
            ["external_id"] = "security-suite-" + Guid.NewGuid().ToString("N")[..12],
        });
        payment.ExpectStatus(201);
        ids["trx"] = payment.String("trx_id");
        return new SuiteData { Gateway = gateway, A = a, B = b, IdsOfA = ids };
    }

    /// <summary>The kind of object a path parameter names, from the collection segment before it.</summary>
    public static string? KindOf(string pathTemplate, string parameter)
    {
        var segments = pathTemplate.Split('/');
        var at = Array.FindIndex(segments, s => s.StartsWith('{') && s[1..^1].Split(':')[0] == parameter);
        var collection = at > 0 ? segments[at - 1] : "";
        return collection switch
        {
            "transactions" => "trx",
            "payment-intents" => "pi",
            "tokenization-intents" => "tki",
            "card-tokens" => "tok",
            "merchants" => "mer",
            _ => null,
        };
    }

    /// <summary>A well-formed ID of that kind that nobody has.</summary>
    public static string UnknownId(string kind) => kind + "_01J5XCMDXCFXCAQ1BV8HVG6644";
}
