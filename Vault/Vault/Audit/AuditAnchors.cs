using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Npgsql;
using Payments.Vault.Observability;

namespace Payments.Vault.Audit;

/// <summary>
/// One anchor: the chain's head (its seq, its link and how many rows the chain holds up to it) at a time, MACed under
/// the audit key so that nobody without the key can forge one. Kept outside the database (docs/adr/0121). MACs are in
/// base64, not hex: a hex string holds a run of 13+ digits often enough for the card-number scans of logs to flag it.
/// </summary>
internal sealed record AuditAnchor(
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("rows")] long Rows,
    [property: JsonPropertyName("head_mac")] string HeadMac,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("key_version")] int KeyVersion,
    [property: JsonPropertyName("mac")] string Mac)
{
    public static AuditAnchor Create(long seq, long rows, byte[] head, DateTimeOffset at, IAuditKey key)
    {
        var (version, k) = key.Current;
        var unsigned = new AuditAnchor(seq, rows, Convert.ToBase64String(head), at, version, "");
        return unsigned with { Mac = Convert.ToBase64String(HMACSHA256.HashData(k, unsigned.Canonical())) };
    }

    /// <summary>True when the anchor was made with the audit key (throws CryptographicException for an unknown version).</summary>
    public bool IsAuthentic(IAuditKey key) =>
        CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(key.Get(KeyVersion), Canonical()), Convert.FromBase64String(Mac));

    private byte[] Canonical() => Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
        $"audit-anchor.v1|{Seq}|{Rows}|{HeadMac}|{At.UtcTicks}|{KeyVersion}"));

    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>The last well-formed anchor of an anchor file; null when there is none.</summary>
    public static AuditAnchor? LatestIn(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        AuditAnchor? latest = null;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            try
            {
                latest = JsonSerializer.Deserialize<AuditAnchor>(line) ?? latest;
            }
            catch (JsonException)
            {
                // A torn last line (a crash mid-write) or noise: the anchors before it still count.
            }
        }
        return latest;
    }
}

/// <summary>
/// Writes an anchor every <see cref="AuditOptions.AnchorInterval"/> and every <see cref="AuditOptions.AnchorEveryRows"/>
/// rows (whichever comes first, and only when rows were added): one JSON line appended to the anchor file (0600,
/// flushed to disk), one log line an external collector keeps, and gauges on /metrics.
/// </summary>
internal sealed class AuditAnchors(
    NpgsqlDataSource db,
    IAuditKey key,
    TimeProvider clock,
    IOptions<AuditOptions> options,
    ILogger<AuditAnchors> logger) : BackgroundService
{
    private const long ChainLock = 727274101;
    private static readonly Meter Meter = new(VaultTelemetry.Name);

    private readonly SemaphoreSlim due = new(0, 1);
    private readonly Lock gate = new();
    private long sinceLast;
    private AuditAnchor? latest;
    private TaskCompletionSource<AuditAnchor> next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool gaugesCreated;

    /// <summary>The last anchor this process wrote, or the anchor file's last one at start.</summary>
    public AuditAnchor? Latest => Volatile.Read(ref latest);

    /// <summary>Completes when the next anchor is written (tests wait on it rather than on a clock).</summary>
    public Task<AuditAnchor> NextAsync()
    {
        lock (gate)
        {
            return next.Task;
        }
    }

    /// <summary>Counts rows the writer appended; past the threshold the next anchor is written now.</summary>
    public void Added(int rows)
    {
        if (rows > 0 && Interlocked.Add(ref sinceLast, rows) >= options.Value.AnchorEveryRows && due.CurrentCount == 0)
        {
            try
            {
                due.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        CreateGauges();
        var path = options.Value.AnchorPath();
        try
        {
            Volatile.Write(ref latest, AuditAnchor.LatestIn(path));
        }
        catch (IOException e)
        {
            logger.LogWarning("The audit anchor file could not be read: {Error}", e.GetType().Name);
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await WriteAsync(path, stoppingToken);
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                tick.CancelAfter(options.Value.AnchorInterval);
                try
                {
                    await due.WaitAsync(tick.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException or UnauthorizedAccessException or TimeoutException)
            {
                logger.LogError("An audit anchor could not be written; retrying: {Error}", e.GetType().Name);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Reads the head under the chain lock (so it is committed and final) and anchors it, if it moved.</summary>
    public async Task<AuditAnchor?> WriteAsync(string path, CancellationToken ct)
    {
        Interlocked.Exchange(ref sinceLast, 0);
        AuditAnchor anchor;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await using (var lockCmd = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({ChainLock})", conn, tx))
            {
                await lockCmd.ExecuteNonQueryAsync(ct);
            }
            await using var head = new NpgsqlCommand("""
                SELECT seq, coalesce(mac, hash), coalesce(n, (SELECT count(*) FROM vault.audit_log))
                FROM vault.audit_log ORDER BY seq DESC LIMIT 1
                """, conn, tx);
            await using var r = await head.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                return null;
            }
            var seq = r.GetInt64(0);
            if (Latest is { } previous && previous.Seq == seq && previous.IsAuthenticSafe(key))
            {
                return null; // nothing added since: the anchor still holds
            }
            var now = clock.GetUtcNow();
            anchor = AuditAnchor.Create(seq, r.GetInt64(2), (byte[])r[1],
                new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero), key);
        }
        await AppendLineAsync(path, anchor.ToJson(), ct);
        logger.LogInformation(
            "Audit anchor seq {AnchorSeq} rows {AnchorRows} head {AnchorHeadMac} at {AnchorAt} key {AnchorKeyVersion} mac {AnchorMac}",
            anchor.Seq, anchor.Rows, anchor.HeadMac, anchor.At.ToString("O", CultureInfo.InvariantCulture), anchor.KeyVersion, anchor.Mac);
        Volatile.Write(ref latest, anchor);
        TaskCompletionSource<AuditAnchor> done;
        lock (gate)
        {
            done = next;
            next = new TaskCompletionSource<AuditAnchor>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        done.TrySetResult(anchor);
        return anchor;
    }

    private static async Task AppendLineAsync(string path, string line, CancellationToken ct)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        var fileOptions = new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read,
        };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using var file = new FileStream(path, fileOptions);
        await file.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), ct);
        file.Flush(flushToDisk: true);
    }

    private void CreateGauges()
    {
        if (gaugesCreated)
        {
            return;
        }
        gaugesCreated = true;
        Meter.CreateObservableGauge("audit.anchor.seq", () => Latest?.Seq ?? 0, "{row}", "The seq of the audit chain's last anchor.");
        Meter.CreateObservableGauge("audit.anchor.rows", () => Latest?.Rows ?? 0, "{row}", "Rows of the audit chain up to its last anchor.");
        Meter.CreateObservableGauge("audit.anchor.last_written", () => (Latest?.At.ToUnixTimeMilliseconds() ?? 0) / 1000.0, "s",
            "When the audit chain was last anchored (Unix time).");
    }
}

internal static class AuditAnchorExtensions
{
    public static bool IsAuthenticSafe(this AuditAnchor anchor, IAuditKey key)
    {
        try
        {
            return anchor.IsAuthentic(key);
        }
        catch (Exception e) when (e is CryptographicException or FormatException)
        {
            return false;
        }
    }
}
