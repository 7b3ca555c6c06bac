namespace DumpShell.Model;

/// <summary>How addresses are printed everywhere: "0x" and the dump's pointer width in hex digits.</summary>
/// <remarks>
/// WinDbg prints 00007ff6`a1c01000; we print 0x00007ff6a1c01000, which PowerShell reads back as a number
/// and every DumpShell -Address parameter accepts, like WinDbg's form.
/// </remarks>
public static class Hex
{
    public static string Address(ulong? value, int pointerSize) =>
        value is { } v ? "0x" + v.ToString(pointerSize == 4 && v <= uint.MaxValue ? "x8" : "x16") : "";
}
