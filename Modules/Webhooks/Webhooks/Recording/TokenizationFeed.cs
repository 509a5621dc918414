using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Tokenization.Contracts;

namespace Payments.Webhooks.Recording;

/// <summary>
/// Turns Tokenization's recorded intent transitions into merchant events. Tokenization exposes them as a feed
/// ordered by its own sequence (<see cref="ITokenizationEvents"/>); this reads after a cursor kept in
/// <c>webhooks.feed_cursors</c>, records each event (idempotent: the event id is derived from the feed sequence, so a
/// crash between recording and moving the cursor records nothing twice) and then moves the cursor.
/// </summary>
internal sealed class TokenizationFeed(
    NpgsqlDataSource db,
    ITokenizationEvents feed,
    IOptions<WebhooksOptions> options,
    ILogger<TokenizationFeed> logger) : BackgroundService
{
    private const string FeedName = "tokenization";
    private const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await PumpOnceAsync(stoppingToken) == BatchSize)
                {
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Reading the tokenization feed failed; retrying on the next poll");
            }
            try
            {
                await Task.Delay(options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    internal async Task<int> PumpOnceAsync(CancellationToken ct)
    {
        long cursor;
        await using (var read = db.CreateCommand("SELECT last_sequence FROM webhooks.feed_cursors WHERE feed = $1"))
        {
            read.Parameters.Add(new() { Value = FeedName });
            cursor = await read.ExecuteScalarAsync(ct) is long c ? c : 0;
        }
        var batch = await feed.ReadAfterAsync(cursor, BatchSize, ct);
        foreach (var e in batch.OrderBy(e => e.Sequence))
        {
            await EventRecorder.RecordAsync(db,
                new IncomingEvent(EventId(e), e.Type, e.MerchantId, e.OccurredAt, e.DataJson), ct);
            await using var move = db.CreateCommand("""
                INSERT INTO webhooks.feed_cursors (feed, last_sequence) VALUES ($1, $2)
                ON CONFLICT (feed) DO UPDATE SET last_sequence = greatest(webhooks.feed_cursors.last_sequence, excluded.last_sequence)
                """);
            move.Parameters.Add(new() { Value = FeedName });
            move.Parameters.Add(new() { Value = e.Sequence });
            await move.ExecuteNonQueryAsync(ct);
        }
        return batch.Count;
    }

    /// <summary>An <c>evt_</c> ULID fixed by the feed entry: its time, then 80 bits of a hash of its sequence.</summary>
    internal static string EventId(TokenizationIntentEvent e)
    {
        const string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        var ms = (ulong)e.OccurredAt.ToUnixTimeMilliseconds();
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"tokenization:{e.Sequence}:{e.IntentId}:{e.Type}"));
        var rnd = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(hash.AsSpan(0, 16));
        Span<char> ulid = stackalloc char[26];
        for (var i = 9; i >= 0; i--, ms >>= 5)
        {
            ulid[i] = alphabet[(int)(ms & 31)];
        }
        for (var i = 25; i >= 10; i--, rnd >>= 5)
        {
            ulid[i] = alphabet[(int)(rnd & 31)];
        }
        return string.Concat("evt_", ulid);
    }
}
