using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Payments.Auth.Tokens;

/// <summary>
/// Compact JWS with ES256 only, on System.Security.Cryptography (docs/adr/0011-jwt-without-a-library.md).
/// The algorithm is fixed by the verifier, never taken from the token.
/// </summary>
internal static class Jwt
{
    public const int MaxLength = 4096;

    public static string Sign(JsonObject header, JsonObject payload, ECDsa key)
    {
        var signingInput = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header.ToJsonString()))
                           + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256,
            DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>Splits and decodes a compact JWS; false when it is not one (nothing about the signature yet).</summary>
    public static bool TryParse(string token, out JsonElement header, out JsonElement payload, out byte[] signingInput, out byte[] signature)
    {
        header = default;
        payload = default;
        signingInput = [];
        signature = [];
        if (token.Length is 0 or > MaxLength)
        {
            return false;
        }
        var parts = token.Split('.');
        if (parts.Length != 3 || parts.Any(p => p.Length == 0))
        {
            return false;
        }
        try
        {
            header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement.Clone();
            payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement.Clone();
            signature = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return false;
        }
        signingInput = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
        return header.ValueKind == JsonValueKind.Object && payload.ValueKind == JsonValueKind.Object;
    }
}
