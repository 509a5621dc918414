using System.Reflection;
using Payments.Auth;
using Payments.BuildingBlocks.Hosting;
using Payments.Intents;
using Payments.Refunds;
using Payments.Tokenization;
using Payments.Transactions;
using Payments.Webhooks;

namespace Payments.Host;

/// <summary>The modules this Host is composed of, in the order their migrations run.</summary>
internal static class Modules
{
    public static readonly ModuleDefinition[] All =
    [
        AuthModule.Definition,
        TokenizationModule.Definition,
        IntentsModule.Definition,
        TransactionsModule.Definition,
        RefundsModule.Definition,
        WebhooksModule.Definition,
    ];

    public static Assembly[] Assemblies => All.Select(m => m.Assembly).ToArray();
}
