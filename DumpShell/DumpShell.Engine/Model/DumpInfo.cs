using DumpShell.Machine;

namespace DumpShell.Model;

/// <summary>What the dump is and what process it holds (WinDbg's vertarget, .time, ||).</summary>
public sealed class DumpInfo
{
    public required string DumpPath { get; init; }
    public long FileSize { get; init; }
    /// <summary>The MINIDUMP_TYPE flags as one value.</summary>
    public ulong DumpTypeFlags { get; init; }
    /// <summary>Each set MINIDUMP_TYPE flag by name (MiniDumpWithFullMemory, ...); "MiniDumpNormal" when none is set.</summary>
    public required string[] DumpType { get; init; }
    /// <summary>Who wrote the file, where the file says so (a vendor stream); null when it does not.</summary>
    public string? Writer { get; init; }
    public DateTimeOffset? DumpTime { get; init; }
    public required string Platform { get; init; }
    public string? OSVersion { get; init; }
    public uint? OSBuild { get; init; }
    public string? ServicePack { get; init; }
    public string? ProductType { get; init; }
    public CpuArchitecture Architecture { get; init; }
    /// <summary>True when a 32-bit process was dumped from its 64-bit WOW64 layer (wow64.dll is loaded).</summary>
    public bool IsWow64 { get; init; }
    public int? ProcessorCount { get; init; }
    public string? Processor { get; init; }
    public uint? ProcessId { get; init; }
    public string? ImageName { get; init; }
    public string? ImagePath { get; init; }
    public DateTimeOffset? ProcessCreateTime { get; init; }
    public TimeSpan? ProcessUptime { get; init; }
    public TimeSpan? ProcessUserTime { get; init; }
    public TimeSpan? ProcessKernelTime { get; init; }
    public string? IntegrityLevel { get; init; }
    public string? TimeZone { get; init; }
    public string? BuildString { get; init; }
    public int ThreadCount { get; init; }
    public int ModuleCount { get; init; }
    public int UnloadedModuleCount { get; init; }
    /// <summary>Number of handles in the HandleData stream; null when the dump has none.</summary>
    public int? HandleCount { get; init; }
    public int MemoryRangeCount { get; init; }
    public ulong MemoryBytes { get; init; }
    /// <summary>Names of the streams in the directory, in directory order (unknown types as hex).</summary>
    public required string[] Streams { get; init; }
    public required string[] Comments { get; init; }
    /// <summary>One line: the stored exception, or that there is none (a manual dump).</summary>
    public required string LastEvent { get; init; }
}

/// <summary>One stream-directory entry (.dumpdebug).</summary>
public sealed class DumpStream
{
    public required string DumpPath { get; init; }
    public int Index { get; init; }
    public uint Type { get; init; }
    public required string Name { get; init; }
    public uint Size { get; init; }
    public uint Rva { get; init; }
}
