namespace DumpShell.Model;

/// <summary>A loaded (or, with IsUnloaded, an unloaded) module (WinDbg's lm, lmv, !mv).</summary>
public sealed class DumpModule
{
    public required string DumpPath { get; init; }
    public int Index { get; init; }
    public ulong BaseAddress { get; init; }
    public uint Size { get; init; }

    /// <summary>The dump's pointer size in bytes (4 or 8): how wide addresses print.</summary>
    public int PointerSize { get; init; } = 8;
    public ulong EndAddress => BaseAddress + Size;
    /// <summary>The file name without its folder, e.g. "ntdll.dll".</summary>
    public required string Name { get; init; }
    /// <summary>The path as the dump records it.</summary>
    public string? Path { get; init; }
    public Version? FileVersion { get; init; }
    public Version? ProductVersion { get; init; }
    /// <summary>The PE header's TimeDateStamp (link time, or a hash in reproducible builds).</summary>
    public uint TimeDateStamp { get; init; }
    public DateTimeOffset? Timestamp { get; init; }
    public uint CheckSum { get; init; }
    public string? PdbName { get; init; }
    public Guid? PdbGuid { get; init; }
    public uint? PdbAge { get; init; }
    /// <summary>"RSDS", "NB10", "ELF" or null: the kind of CodeView record.</summary>
    public string? CodeViewFormat { get; init; }
    /// <summary>ELF build id (Breakpad dumps of Linux processes), as hex.</summary>
    public string? BuildId { get; init; }
    public string? CompanyName { get; init; }
    public string? FileDescription { get; init; }
    public bool IsUnloaded { get; init; }
}
