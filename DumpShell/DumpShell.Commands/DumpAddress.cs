using System.Globalization;

namespace DumpShell.Commands;

/// <summary>
/// An address as WinDbg users type it: hex by default, with or without 0x, with ` separators
/// ("00007ff6`a1c01000"), or decimal with 0n. PowerShell numbers convert as they are.
/// </summary>
public readonly struct DumpAddress
{
    public ulong Value { get; }

    public DumpAddress(ulong value) => Value = value;
    public DumpAddress(long value) => Value = unchecked((ulong)value);
    public DumpAddress(int value) => Value = unchecked((ulong)(long)value);

    /// <summary>Called by PowerShell's parameter binder to convert a string argument.</summary>
    public static DumpAddress Parse(string text)
    {
        string s = text.Trim().Replace("`", "").Replace("'", "");
        if (s.StartsWith("0n", StringComparison.OrdinalIgnoreCase) &&
            ulong.TryParse(s.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out ulong dec))
            return new DumpAddress(dec);
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) s = s[2..];
        if (s.Length > 0 && ulong.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex))
            return new DumpAddress(hex);
        throw new FormatException($"'{text}' is not an address. Use hex (0x7ff6a1c01000, 7ff6a1c01000, 00007ff6`a1c01000) or 0n for decimal.");
    }

    public override string ToString() => $"0x{Value:x}";
}
