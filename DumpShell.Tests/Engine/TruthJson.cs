using System.Globalization;
using System.Text.Json;

namespace DumpShell.Tests.Engine;

/// <summary>Reading values out of a dumpshell-truth/1 file: hex strings ("0x...") and JSON numbers.</summary>
internal static class TruthJson
{
    /// <summary>A "0x..." string or a JSON number as an unsigned 64-bit value.</summary>
    public static ulong U64(this JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => ParseHex(e.GetString()!),
        JsonValueKind.Number => e.GetUInt64(),
        _ => throw new InvalidOperationException($"Expected a number or hex string, got {e.ValueKind}."),
    };

    public static uint U32(this JsonElement e) => checked((uint)e.U64());

    public static ulong U64(this JsonElement e, string property) => e.GetProperty(property).U64();
    public static uint U32(this JsonElement e, string property) => e.GetProperty(property).U32();
    public static int Int(this JsonElement e, string property) => e.GetProperty(property).GetInt32();
    public static double Double(this JsonElement e, string property) => e.GetProperty(property).GetDouble();
    public static string Str(this JsonElement e, string property) => e.GetProperty(property).GetString()!;

    /// <summary>The property when it is present and not null.</summary>
    public static JsonElement? Opt(this JsonElement e, string property) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(property, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static bool Has(this JsonElement e, string property) => e.Opt(property) is not null;

    public static IEnumerable<JsonElement> Items(this JsonElement e, string property) =>
        e.Opt(property) is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray() : [];

    public static IEnumerable<JsonElement> Items(this JsonElement e) => e.EnumerateArray();

    public static ulong ParseHex(string s)
    {
        string digits = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s[2..] : s;
        return ulong.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
    }

    /// <summary>The live_process.threads entries (ThreadList order: wdump reorders them to the file's ThreadList).</summary>
    public static JsonElement[] LiveThreads(this JsonElement truth) =>
        truth.GetProperty("live_process").Items("threads").ToArray();

    /// <summary>The "added_by_wdump" item whose name starts with <paramref name="itemPrefix"/>, if any.</summary>
    public static JsonElement? Added(this JsonElement truth, string itemPrefix) =>
        truth.Items("added_by_wdump").Cast<JsonElement?>()
            .FirstOrDefault(a => a!.Value.Str("item").StartsWith(itemPrefix, StringComparison.Ordinal));
}
