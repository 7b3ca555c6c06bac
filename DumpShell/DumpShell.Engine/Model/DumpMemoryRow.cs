namespace DumpShell.Model;

/// <summary>How Get-DumpMemory shows memory: WinDbg's db, dw, dd, dq and dp.</summary>
public enum MemoryFormat
{
    Byte,
    Word,
    DWord,
    QWord,
    /// <summary>Values of the dump's pointer size (4 or 8 bytes).</summary>
    Pointer,
}

/// <summary>One line of a memory display: an address and the values that follow it.</summary>
public sealed class DumpMemoryRow
{
    public required string DumpPath { get; init; }
    public ulong Address { get; init; }
    public MemoryFormat Format { get; init; }

    /// <summary>The dump's pointer size in bytes (4 or 8): how wide addresses print.</summary>
    public int PointerSize { get; init; } = 8;
    /// <summary>The values, null where the byte range is not in the dump.</summary>
    public required ulong?[] Values { get; init; }
    /// <summary>The values as WinDbg prints them ("??" for missing memory).</summary>
    public required string Hex { get; init; }
    /// <summary>The bytes as ASCII (Byte format only), '.' for unprintable ones.</summary>
    public string? Ascii { get; init; }
}
