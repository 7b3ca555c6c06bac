namespace DumpShell.Model;

/// <summary>An exception record, decoded (WinDbg's .exr, .lastevent).</summary>
public sealed class DumpException
{
    public required string DumpPath { get; init; }
    public uint ThreadId { get; init; }

    /// <summary>The dump's pointer size in bytes (4 or 8): how wide addresses print.</summary>
    public int PointerSize { get; init; } = 8;
    public uint Code { get; init; }
    /// <summary>The code's symbolic name (EXCEPTION_ACCESS_VIOLATION, SIGSEGV, ...), or null when unknown.</summary>
    public string? CodeName { get; init; }
    /// <summary>What the code means, in a sentence; for access violations, what was accessed.</summary>
    public required string Description { get; init; }
    public uint Flags { get; init; }
    public bool IsNonContinuable => (Flags & 1) != 0;
    /// <summary>The record's ExceptionAddress: the faulting instruction on Windows; Breakpad puts the faulting data address here on Linux and macOS.</summary>
    public ulong Address { get; init; }
    /// <summary>The faulting code as module+offset, when a module contains it (on Linux and macOS dumps, the context's instruction pointer).</summary>
    public string? AddressSymbol { get; init; }
    /// <summary>The module holding the faulting code (see AddressSymbol).</summary>
    public string? Module { get; init; }
    public required ulong[] Parameters { get; init; }
    /// <summary>Access violations and in-page errors: "Read", "Write" or "Execute" (DEP).</summary>
    public string? AccessType { get; init; }
    /// <summary>Access violations and in-page errors: the address that could not be accessed.</summary>
    public ulong? TargetAddress { get; init; }
    /// <summary>Fail-fast (0xC0000409): the FAST_FAIL_* sub-code name.</summary>
    public string? FastFailCode { get; init; }
    /// <summary>The ExceptionRecord pointer: a chained record in process memory, 0 when none.</summary>
    public ulong NestedRecordAddress { get; init; }
    public DumpException? Nested { get; init; }
    /// <summary>0 for the stored record, 1 for the record it chains to, and so on.</summary>
    public int Depth { get; init; }
    public ulong? InstructionPointer { get; init; }
    public ulong? StackPointer { get; init; }
    public ulong? FramePointer { get; init; }
    /// <summary>Registers of the exception context (.ecxr), for the stored record.</summary>
    public IReadOnlyDictionary<string, ulong>? ContextRegisters { get; init; }
}
