using System.Globalization;
using FastEndpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Payments.Auth.Contracts;
using Payments.BuildingBlocks;
using Payments.BuildingBlocks.Data;
using Payments.BuildingBlocks.Http;
using Payments.Transactions.Contracts;
using Payments.Transactions.Data;

namespace Payments.Transactions.Features.List;

/// <summary>
/// <c>GET /v1/transactions</c>: the merchant's transactions created in
/// <c>start 00:00:00 &lt;= created_at &lt;= end 00:00:00</c> (UTC), filtered, sorted stably, paged, with the total
/// and the <c>as_of</c> watermark that keeps later pages from shifting.
/// </summary>
internal sealed class ListTransactionsEndpoint(ICurrentMerchant merchant, ListData data, PendingCreations creations)
    : EndpointWithoutRequest<ListTransactionsResponse>
{
    public override void Configure()
    {
        Get("/v1/transactions");
        Options(b => b.WithMetadata(new QueryParametersAttribute(Known)));
        Description(b => b.ProducesProblem(400));
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        // Without an as_of, the first page's: now, or just before a row of this merchant still being committed, so that
        // no row created before it can appear after this page was read (docs/adr/0039).
        var q = Parse(HttpContext.Request.Query, creations.Horizon(merchant.Id));
        var (page, total) = await data.ListAsync(merchant.Id, q, ct);
        await Send.OkAsync(new ListTransactionsResponse(page, q.Offset, q.Limit, total, q.Offset + page.Count < total,
            q.AsOf.UtcDateTime.ToString(UtcTimestampConverter.Format, CultureInfo.InvariantCulture)), ct);
    }

    private static readonly string[] Known =
        ["start_date", "end_date", "offset", "limit", "sort_by", "sort_direction", "type", "status", "as_of"];

    internal static ListQuery Parse(IQueryCollection query, DateTimeOffset horizon)
    {
        var errors = new Dictionary<string, string[]>();
        string? One(string name)
        {
            var v = query[name];
            if (v.Count > 1)
            {
                errors[name] = ["Give it once."];
                return null;
            }
            return v.Count == 0 ? null : v.ToString();
        }

        DateTimeOffset? Date(string name)
        {
            var v = One(name);
            if (v is null)
            {
                errors.TryAdd(name, ["Is required, as DD/MM/YYYY."]);
                return null;
            }
            if (!DateOnly.TryParseExact(v, "dd/MM/yyyy", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
            {
                errors[name] = ["Must be a real date as DD/MM/YYYY."];
                return null;
            }
            return new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        }

        var from = Date("start_date");
        var to = Date("end_date");
        if (from is not null && to is not null && to < from)
        {
            errors["end_date"] = ["Must not be before start_date."];
        }

        long offset = 0;
        if (One("offset") is { } o)
        {
            if (Integer(o) is { } parsed)
            {
                offset = Math.Max(0, parsed);
            }
            else
            {
                errors["offset"] = ["Must be an integer."];
            }
        }

        var limit = 10;
        if (One("limit") is { } l)
        {
            if (Integer(l) is { } parsed)
            {
                limit = (int)Math.Clamp(parsed, 10, 100);
            }
            else
            {
                errors["limit"] = ["Must be an integer."];
            }
        }

        var sortBy = One("sort_by") ?? "updated_at";
        if (!ListData.IsSortField(sortBy))
        {
            errors["sort_by"] = ["Must be type, status, order_amount, created_at or updated_at."];
        }
        var direction = One("sort_direction") ?? "ASC";
        if (direction is not ("ASC" or "DESC"))
        {
            errors["sort_direction"] = ["Must be ASC or DESC."];
        }
        var type = One("type");
        if (type is not null && !TransactionTypes.All.Contains(type))
        {
            errors["type"] = ["Must be PAYMENT, REFUND or CHARGEBACK."];
        }
        var status = One("status");
        if (status is not null && !TransactionStatuses.All.Contains(status))
        {
            errors["status"] = ["Must be one of " + string.Join(", ", TransactionStatuses.All) + "."];
        }
        var asOf = horizon;
        if (One("as_of") is { } a)
        {
            if (FieldRules.TryParseTimestamp(a, out var parsed))
            {
                asOf = parsed;
            }
            else
            {
                errors["as_of"] = [FieldRules.TimestampMessage + " Pass a previous page's as_of."];
            }
        }

        if (errors.Count > 0)
        {
            throw new ProblemException(400, ErrorCodes.ValidationFailed, "One or more query parameters are not valid.", errors);
        }
        return new ListQuery(from!.Value, to!.Value, asOf, offset, limit, sortBy, direction == "DESC", type, status);
    }

    /// <summary>
    /// An integer, or null when the text is not one. Integers beyond 64 bits are still integers (the contract clamps
    /// them, it does not refuse them): they come back as the nearest 64-bit value.
    /// </summary>
    private static long? Integer(string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }
        var digits = text.AsSpan().TrimStart("+-");
        return text.Length - digits.Length <= 1 && digits.Length > 0 && !digits.ContainsAnyExceptInRange('0', '9')
            ? text[0] == '-' ? long.MinValue : long.MaxValue
            : null;
    }
}

internal sealed record ListTransactionsResponse(
    IReadOnlyList<TransactionSnapshot> Data,
    long Offset,
    int Limit,
    long Total,
    bool HasMore,
    string AsOf);
