namespace DumpShell.Model;

/// <summary>
/// The process environment block and process parameters (WinDbg's !peb), read from dump memory with the built-in
/// Windows 10/11 layouts of ../shared/docs/patterns.md. A field whose memory the dump did not capture is null (and
/// named in <see cref="Unavailable"/>), never 0. A WOW64 dump has two: the 64-bit PEB and the 32-bit one.
/// </summary>
public sealed class ProcessEnvironment
{
    public required string DumpPath { get; init; }
    /// <summary>4 or 8: the layout this PEB was read with (4 for the 32-bit PEB of a WOW64 process).</summary>
    public int PointerSize { get; init; } = 8;
    /// <summary>True for the 32-bit PEB of a WOW64 process.</summary>
    public bool IsWow64Peb { get; init; }
    public ulong PebAddress { get; init; }
    /// <summary>The TEB the PEB pointer was taken from.</summary>
    public ulong TebAddress { get; init; }
    public bool? BeingDebugged { get; init; }
    public ulong? ImageBaseAddress { get; init; }
    /// <summary>PEB.Ldr (PEB_LDR_DATA).</summary>
    public ulong? LoaderData { get; init; }
    public ulong? ProcessParametersAddress { get; init; }
    public ulong? ProcessHeap { get; init; }
    public uint? NumberOfHeaps { get; init; }
    /// <summary>PEB.ProcessHeaps, as far as the array was captured.</summary>
    public IReadOnlyList<ulong>? ProcessHeaps { get; init; }
    public uint? NtGlobalFlag { get; init; }
    /// <summary>The NtGlobalFlag bits by gflags name (e.g. "hpa (page heap)"), comma-separated; null when the flag is unavailable.</summary>
    public string? NtGlobalFlagNames { get; init; }
    public uint? SessionId { get; init; }
    public string? ImagePathName { get; init; }
    public string? CommandLine { get; init; }
    public string? CurrentDirectory { get; init; }
    public string? DllPath { get; init; }
    public string? WindowTitle { get; init; }
    public ulong? EnvironmentAddress { get; init; }
    /// <summary>The environment block's size in bytes, up to and including its final double NUL.</summary>
    public long? EnvironmentSize { get; init; }
    /// <summary>True when the block ended (captured memory or the size bound) before its double NUL.</summary>
    public bool EnvironmentTruncated { get; init; }
    /// <summary>The variables in block order (NAME=value); hidden "=C:" style entries included.</summary>
    public IReadOnlyList<EnvironmentVariable>? Environment { get; init; }
    /// <summary>The loader's InLoadOrder module list (PEB.Ldr), when its memory is in the dump (full-memory dumps).</summary>
    public IReadOnlyList<LoaderModule>? LoaderModules { get; init; }
    /// <summary>Fields that could not be read because their memory is not in the dump.</summary>
    public required IReadOnlyList<string> Unavailable { get; init; }

    /// <summary>The value of an environment variable (case-insensitive, as Windows compares names), or null.</summary>
    public string? GetVariable(string name) =>
        Environment?.FirstOrDefault(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase))?.Value;
}

/// <summary>One NAME=value entry of an environment block.</summary>
public sealed record EnvironmentVariable(string Name, string Value)
{
    public override string ToString() => $"{Name}={Value}";
}

/// <summary>One LDR_DATA_TABLE_ENTRY of the loader's module list.</summary>
public sealed record LoaderModule(ulong DllBase, uint SizeOfImage, ulong EntryPoint, string? BaseDllName, string? FullDllName);

/// <summary>One thread's last Win32 error and last NTSTATUS (WinDbg's !gle), from its TEB.</summary>
public sealed class DumpLastError
{
    public required string DumpPath { get; init; }
    public int PointerSize { get; init; } = 8;
    public uint ThreadId { get; init; }
    /// <summary>The thread's debugger ordinal.</summary>
    public int ThreadIndex { get; init; }
    public string? ThreadName { get; init; }
    /// <summary>The TEB read (the 32-bit TEB for a WOW64 thread).</summary>
    public ulong Teb { get; init; }
    /// <summary>TEB.LastErrorValue; null when the TEB page is not in the dump.</summary>
    public uint? LastError { get; init; }
    /// <summary>The Win32 error's symbolic name (ERROR_ACCESS_DENIED), when known.</summary>
    public string? LastErrorName { get; init; }
    /// <summary>The Win32 error's message text, when known.</summary>
    public string? Message { get; init; }
    /// <summary>TEB.LastStatusValue (an NTSTATUS); null when not in the dump.</summary>
    public uint? LastStatus { get; init; }
    public string? LastStatusName { get; init; }
    /// <summary>True when the values are usually harmless (insufficient buffer, no more items, I/O pending, ...).</summary>
    public bool IsHarmless { get; init; }
}
