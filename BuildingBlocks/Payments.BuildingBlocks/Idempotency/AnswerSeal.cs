using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Payments.BuildingBlocks.Hosting;

namespace Payments.BuildingBlocks.Idempotency;

/// <summary>
/// Keeps an answer that shows a secret once (a tokenization intent's <c>client_secret</c>, a webhook endpoint's signing
/// secret) for the replays of its <c>Idempotency-Key</c>, without the secret in clear in the Host's database or cache:
/// the stored body is the answer without the secret, and the answer as sent rides beside it sealed with AES-256-GCM
/// under <c>Idempotency:SecretKey</c>, bound to the merchant and the key. A replay opens it, so it is the first answer,
/// as the contract says (docs/adr/0030).
/// </summary>
public sealed class AnswerSeal
{
    /// <summary>The stored answer's header entry that holds the sealed answer: with ':' it is no HTTP field name, and never sent.</summary>
    public const string Entry = ":sealed-answer";

    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] key;

    public AnswerSeal(IOptions<IdempotencyOptions> options, IOptions<GatewayOptions> gateway, ILogger<AnswerSeal> logger) =>
        key = ConfiguredKeys.Read("Idempotency:SecretKey", options.Value.SecretKey, gateway.Value, logger,
            "answers that show a secret are sealed", "payments-sandbox-idempotency-answer-key");

    /// <summary>The answer as sent, sealed for the merchant's key: nonce, ciphertext and tag, base64.</summary>
    public string Seal(string merchantId, string idempotencyKey, ReadOnlySpan<byte> answer)
    {
        var sealedAnswer = new byte[NonceSize + answer.Length + TagSize];
        var nonce = sealedAnswer.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, answer, sealedAnswer.AsSpan(NonceSize, answer.Length), sealedAnswer.AsSpan(NonceSize + answer.Length),
            Bound(merchantId, idempotencyKey));
        return Convert.ToBase64String(sealedAnswer);
    }

    /// <summary>The answer as sent, or null when it does not open (another key sealed it, or it was altered).</summary>
    public byte[]? Open(string merchantId, string idempotencyKey, string sealedAnswer)
    {
        try
        {
            var bytes = Convert.FromBase64String(sealedAnswer);
            if (bytes.Length < NonceSize + TagSize)
            {
                return null;
            }
            var answer = new byte[bytes.Length - NonceSize - TagSize];
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(bytes.AsSpan(0, NonceSize), bytes.AsSpan(NonceSize, answer.Length), bytes.AsSpan(NonceSize + answer.Length),
                answer, Bound(merchantId, idempotencyKey));
            return answer;
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            return null;
        }
    }

    /// <summary>Associated data: a sealed answer copied to another merchant's or key's row does not open.</summary>
    private static byte[] Bound(string merchantId, string idempotencyKey) => Encoding.UTF8.GetBytes(merchantId + "\n" + idempotencyKey);
}
