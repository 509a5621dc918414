using System.Diagnostics;
using System.Globalization;
using Payments.Perf.Api;
using Payments.Perf.Data;
using Payments.Perf.Measure;

namespace Payments.Perf.Scenarios;

/// <summary>A scenario with its own merchants (each with a few card tokens, used card-on-file).</summary>
internal abstract class MerchantScenario(string name, string iterationStep) : IScenario
{
    protected SuiteContext Ctx { get; private set; } = null!;

    protected List<Merchant> Merchants { get; private set; } = [];

    public string Name { get; } = name;

    public string IterationStep { get; } = iterationStep;

    public string? Unavailable { get; protected set; }

    protected GatewayApi Api => Ctx.Api;

    public virtual async Task PrepareAsync(SuiteContext context)
    {
        Ctx = context;
        // Card uses are rate limited per merchant (60,000/min by default); several merchants keep the limiter out of the figures.
        Merchants = await context.CreateMerchantsAsync(Name, context.Options.MerchantsPerScenario, context.Options.CardsPerMerchant);
    }

    protected Merchant MerchantFor(long seq) => Merchants[(int)(seq % Merchants.Count)];

    protected static long AmountFor(long seq) => 1_000 + (seq * 7919 % 99_000);

    public abstract Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks);
}

/// <summary>Authorize, then capture the whole amount: the hot path.</summary>
internal sealed class PairScenario() : MerchantScenario("pair", "pair")
{
    public override async Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks)
    {
        var m = MerchantFor(seq);
        var amount = AmountFor(seq);
        var auth = await Api.AuthorizeAsync(m, "authorize", amount, seq, phase, "authorize", scheduledTicks);
        if (auth.Status != 201 || auth.Str("trx_id") is not { } trx)
        {
            return auth;
        }
        return await Api.OperateAsync(m, trx, "capture", amount, phase, "capture", Stopwatch.GetTimestamp());
    }
}

/// <summary>Authorization with immediate capture.</summary>
internal sealed class AuthcapScenario() : MerchantScenario("authcap", "authcap.iteration")
{
    public override Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks) =>
        Api.AuthorizeAsync(MerchantFor(seq), "authcap", AmountFor(seq), seq, phase, "authcap", scheduledTicks);
}

/// <summary>Authorize, then void all that remains.</summary>
internal sealed class VoidScenario() : MerchantScenario("authorize-void", "authorize+void")
{
    public override async Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks)
    {
        var m = MerchantFor(seq);
        var auth = await Api.AuthorizeAsync(m, "authorize", AmountFor(seq), seq, phase, "authorize", scheduledTicks);
        if (auth.Status != 201 || auth.Str("trx_id") is not { } trx)
        {
            return auth;
        }
        return await Api.OperateAsync(m, trx, "void", null, phase, "void", Stopwatch.GetTimestamp());
    }
}

/// <summary>Authcap, then refund half. Skipped with a clear line when the refunds route is not there yet.</summary>
internal sealed class RefundScenario() : MerchantScenario("capture-refund", "authcap+refund")
{
    public override async Task PrepareAsync(SuiteContext context)
    {
        await base.PrepareAsync(context);
        Unavailable = await ProbeAsync(context.Api, Merchants[0]);
    }

    /// <summary>Refunds a fresh captured payment; a 404 for one's own new payment can only mean the route is missing.</summary>
    public static async Task<string?> ProbeAsync(GatewayApi api, Merchant m)
    {
        var cap = await api.AuthorizeAsync(m, "authcap", 5_000, 0, null, "probe", 0);
        if (cap.Status != 201 || cap.Str("trx_id") is not { } trx)
        {
            return $"refund probe: authcap answered {cap.Status} {cap.Code}";
        }
        var refund = await api.RefundAsync(m, trx, 1_000, null, "probe", 0);
        return refund.Status switch
        {
            201 => null,
            404 or 405 => "not available: POST /v1/transactions/{id}/refunds answers " + refund.Status,
            _ => $"not available: the refund probe answered {refund.Status} {refund.Code}",
        };
    }

    public override async Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks)
    {
        var m = MerchantFor(seq);
        var amount = AmountFor(seq);
        var cap = await Api.AuthorizeAsync(m, "authcap", amount, seq, phase, "authcap", scheduledTicks);
        if (cap.Status != 201 || cap.Str("trx_id") is not { } trx)
        {
            return cap;
        }
        return await Api.RefundAsync(m, trx, amount / 2, phase, "refund", Stopwatch.GetTimestamp());
    }
}

/// <summary>
/// The list route with filters and sorting, on one merchant holding many transactions (a million in the full run,
/// bulk-inserted with SQL by <see cref="ListSeeder"/>; a few hundred made through the API in the smoke).
/// </summary>
internal sealed class ListScenario() : MerchantScenario("list", "list.iteration")
{
    private static readonly string[] Queries =
    [
        "status=CAPTURED&sort_by=created_at&sort_direction=DESC&limit=20",
        "type=PAYMENT&sort_by=updated_at&limit=50",
        "status=AUTHORIZED&sort_by=order_amount&sort_direction=DESC&limit=20",
        "sort_by=created_at&sort_direction=DESC&limit=100",
        "sort_by=status&sort_direction=DESC&limit=20",
    ];

    private string range = "";

    public long Rows { get; private set; }

    public string SeedNote { get; private set; } = "";

    public override async Task PrepareAsync(SuiteContext context)
    {
        await base.PrepareAsync(context);
        var m = Merchants[0];
        var today = DateTime.UtcNow.Date;
        range = $"start_date={today.AddDays(-40).ToString("dd/MM/yyyy", CultureInfo.InvariantCulture)}&end_date={today.AddDays(1).ToString("dd/MM/yyyy", CultureInfo.InvariantCulture)}";
        // Templates for the SQL seeder (one per status), and the whole data set in the smoke.
        var made = 0;
        for (var i = 0; i < context.Options.ListApiRows; i++)
        {
            var kind = i % 3;
            var res = await Api.AuthorizeAsync(m, kind == 1 ? "authcap" : "authorize", AmountFor(i), i, null, "seed", 0);
            if (res.Status == 201 && kind == 2 && res.Str("trx_id") is { } trx)
            {
                await Api.OperateAsync(m, trx, "void", null, null, "seed", 0);
            }
            made += res.Status == 201 ? 1 : 0;
        }
        Rows = made;
        if (context.Options.ListSeedRows > 0)
        {
            var seeded = await ListSeeder.SeedAsync(context, m.MerchantId, context.Options.ListSeedRows);
            Rows += seeded.Rows;
            SeedNote = seeded.Note;
        }
        // The figure means nothing unless the rows are inside the range the iterations query.
        var check = await Api.ListAsync(m, range, null, "seed", 0);
        var total = check.Body?["total"]?.GetValue<long>() ?? -1;
        if (check.Status != 200 || total < Rows)
        {
            throw new InvalidOperationException($"the list range holds {total} of the {Rows} rows prepared (status {check.Status})");
        }
        SeedNote += $"; the queried range holds {total:N0} rows";
    }

    public override Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks)
    {
        var q = Queries[seq % Queries.Length];
        var offset = seq % 5 * 20;
        return Api.ListAsync(Merchants[0], $"{range}&{q}&offset={offset}", phase, "list", scheduledTicks);
    }
}

/// <summary>
/// Traffic weighted like production: most payments authorize then capture, a quarter authcap, some void, some refund,
/// and merchants' back offices list. Each iteration is one of them; every step keeps its own figures.
/// </summary>
internal sealed class MixScenario(ListScenario list) : MerchantScenario("mix", "mix.iteration")
{
    private bool refunds;

    public override async Task PrepareAsync(SuiteContext context)
    {
        await base.PrepareAsync(context);
        refunds = await RefundScenario.ProbeAsync(context.Api, Merchants[0]) is null;
        Unavailable = null;
    }

    public string Weights => refunds
        ? "45% authorize+capture, 25% authcap, 10% authorize+void, 5% authcap+refund, 15% list"
        : "45% authorize+capture, 30% authcap (refunds not available), 10% authorize+void, 15% list";

    public override async Task<ApiResult> RunOnceAsync(long seq, PhaseStats phase, long scheduledTicks)
    {
        var m = MerchantFor(seq);
        var amount = AmountFor(seq);
        var dice = (int)(seq * 2654435761 % 100);
        if (dice < 45)
        {
            var auth = await Api.AuthorizeAsync(m, "authorize", amount, seq, phase, "authorize", scheduledTicks);
            return auth.Status != 201 || auth.Str("trx_id") is not { } trx ? auth
                : await Api.OperateAsync(m, trx, "capture", amount, phase, "capture", Stopwatch.GetTimestamp());
        }
        if (dice < 70 || (dice < 75 && !refunds))
        {
            return await Api.AuthorizeAsync(m, "authcap", amount, seq, phase, "authcap", scheduledTicks);
        }
        if (dice < 80 && refunds)
        {
            var cap = await Api.AuthorizeAsync(m, "authcap", amount, seq, phase, "authcap", scheduledTicks);
            return cap.Status != 201 || cap.Str("trx_id") is not { } trx ? cap
                : await Api.RefundAsync(m, trx, amount / 2, phase, "refund", Stopwatch.GetTimestamp());
        }
        if (dice < 85)
        {
            var auth = await Api.AuthorizeAsync(m, "authorize", amount, seq, phase, "authorize", scheduledTicks);
            return auth.Status != 201 || auth.Str("trx_id") is not { } trx ? auth
                : await Api.OperateAsync(m, trx, "void", null, phase, "void", Stopwatch.GetTimestamp());
        }
        return await list.RunOnceAsync(seq, phase, scheduledTicks);
    }
}
