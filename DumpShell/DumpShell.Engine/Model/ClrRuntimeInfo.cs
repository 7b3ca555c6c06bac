namespace DumpShell.Model;

/// <summary>The CLR in a dump (SOS's !eeversion): flavour, version, the DAC used and how it was found, GC mode, heaps, AppDomains.</summary>
public sealed class ClrRuntimeInfo
{
    public required string DumpPath { get; init; }
    /// <summary>"Core" (.NET, .NET Core), "Desktop" (.NET Framework) or "NativeAOT".</summary>
    public required string Flavor { get; init; }
    /// <summary>The runtime's version: the runtime module's file version, else its folder's name, else ClrMD's reading.</summary>
    public string? Version { get; init; }
    /// <summary>The runtime module (libcoreclr.so, coreclr.dll, clr.dll).</summary>
    public required string RuntimeModule { get; init; }
    public ulong RuntimeModuleBase { get; init; }
    public string? RuntimeModuleBuildId { get; init; }
    /// <summary>The data access component loaded; null when ClrMD found it itself (its symbol-server download on Windows).</summary>
    public string? DacPath { get; init; }
    /// <summary>How the DAC was found: "-DacPath", or which local runtime matched the dump's build id.</summary>
    public required string DacFoundBy { get; init; }
    /// <summary>"Workstation" or "Server".</summary>
    public required string GCMode { get; init; }
    public bool IsServerGC => GCMode == "Server";
    public int HeapCount { get; init; }
    public bool CanWalkHeap { get; init; }
    public int ThreadCount { get; init; }
    /// <summary>The AppDomains by name (the system and shared domains are not counted).</summary>
    public required IReadOnlyList<string> AppDomains { get; init; }
    public int PointerSize { get; init; } = 8;
}

/// <summary>A managed exception object (SOS's !pe): type, message, HResult, its own stack trace, inner exceptions nested.</summary>
public sealed class ManagedException
{
    public required string DumpPath { get; init; }
    public ulong Address { get; init; }
    public required string Type { get; init; }
    public string? Message { get; init; }
    public int HResult { get; init; }
    /// <summary>The OS thread whose current exception this is; null for an object given by -Address or an inner exception.</summary>
    public uint? ThreadId { get; init; }
    public int? ManagedThreadId { get; init; }
    /// <summary>0 for the outermost exception, 1 for its inner exception, and so on.</summary>
    public int Depth { get; init; }
    /// <summary>The exception's own stack trace (where it was thrown), innermost first: "Namespace.Type.Method".</summary>
    public required IReadOnlyList<string> StackTrace { get; init; }
    /// <summary>"Exception" (the exception object's own trace) or "Thread" (its thread's managed stack, where the dump lacks the trace).</summary>
    public string? StackTraceSource { get; init; }
    /// <summary>The exception's frames with addresses.</summary>
    public required IReadOnlyList<ManagedFrame> Frames { get; init; }
    public ManagedException? InnerException { get; init; }
    /// <summary>The inner exception's type, flat for tables and filters.</summary>
    public string? InnerType => InnerException?.Type;
    public string? InnerMessage => InnerException?.Message;
    public int PointerSize { get; init; } = 8;

    /// <summary>This exception and its inner exceptions, outermost first.</summary>
    public IEnumerable<ManagedException> Chain()
    {
        for (var e = this; e is not null; e = e.InnerException) yield return e;
    }
}

/// <summary>One frame of a managed exception's stack trace.</summary>
public sealed class ManagedFrame
{
    public ulong InstructionPointer { get; init; }
    public ulong StackPointer { get; init; }
    /// <summary>"Namespace.Type.Method", or the runtime's frame name for a frame without a method.</summary>
    public required string Method { get; init; }
    public string? Signature { get; init; }
    public string? Module { get; init; }
    public override string ToString() => Method;
}

/// <summary>One line of !dumpheap -stat: a type with how many objects of it and their total size.</summary>
public sealed class HeapTypeStatistics
{
    public required string DumpPath { get; init; }
    public ulong MethodTable { get; init; }
    public required string Type { get; init; }
    public long Count { get; init; }
    public ulong TotalSize { get; init; }
    public int PointerSize { get; init; } = 8;
}

/// <summary>One object of the managed heap (!dumpheap).</summary>
public sealed class HeapObject
{
    public required string DumpPath { get; init; }
    public ulong Address { get; init; }
    public ulong MethodTable { get; init; }
    public required string Type { get; init; }
    public ulong Size { get; init; }
    /// <summary>"Generation0", "Generation1", "Generation2", "Large", "Pinned", "Frozen" or "Unknown".</summary>
    public string? Generation { get; init; }
    public ulong Segment { get; init; }
    public bool IsFree { get; init; }
    public int PointerSize { get; init; } = 8;
}
