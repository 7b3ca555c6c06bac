using DumpShell.Machine;
using DumpShell.Machine.Unwind;
using DumpShell.Model;

namespace DumpShell;

public sealed partial class Dump
{
    /// <summary>sizeof(CONTEXT) on x86 with ExtendedRegisters.</summary>
    private const int X86FullContextSize = 0x2CC;

    /// <summary>
    /// The exception stream's context record (WinDbg's .ecxr), parsed in full; null without an exception stream or
    /// a readable context. For an ELF core, the signaled thread's registers (NT_PRSTATUS). Walk the exception thread from it with <see cref="WalkExceptionStack"/>.
    /// </summary>
    public CpuContext? ExceptionContext
    {
        get
        {
            if (ElfCore is { } core)
                return core.SignaledThread is { } signaled ? ElfContext(signaled) : null;
            var e = File!.Exception;
            if (e is null) return null;
            var context = CpuContext.Parse(Architecture, File.ReadLocation(e.ContextSize, e.ContextRva));
            if (context is not null) return context;
            // A record the parser cannot take (too short): what the exception model kept of it, if anything.
            return Exception?.ContextRegisters is { Count: > 0 } registers ? CpuContext.FromRegisters(Architecture, registers) : null;
        }
    }

    /// <summary>
    /// A CONTEXT record of the dump's architecture read from process memory at <paramref name="address"/> (WinDbg's
    /// .cxr); null when the dump does not hold enough of it (x64: 0x4D0 bytes, at least 0x100; x86: 0x2CC, at least
    /// 0xCC) or the architecture has no layout.
    /// </summary>
    public CpuContext? ReadContext(ulong address) => ReadContext(address, Architecture);

    /// <summary>
    /// A CONTEXT record of <paramref name="architecture"/> at <paramref name="address"/>: as <see cref="ReadContext(ulong)"/>,
    /// and in an x64 dump of a WOW64 process also an x86 one (a WOW64_CONTEXT, WinDbg's .cxr after .effmach x86).
    /// Null for an x64 record in an x86 dump.
    /// </summary>
    public CpuContext? ReadContext(ulong address, CpuArchitecture architecture)
    {
        if (architecture == CpuArchitecture.X64 && Architecture != CpuArchitecture.X64) return null;
        int size = architecture switch
        {
            CpuArchitecture.X64 => CpuContext.X64Size,
            CpuArchitecture.X86 => X86FullContextSize,
            _ => 0,
        };
        if (size == 0) return null;
        var buffer = new byte[size];
        int read = Memory.Read(address, buffer);
        return CpuContext.Parse(architecture, buffer.AsSpan(0, read));
    }

    /// <summary>Walks <paramref name="thread"/>'s stack from its own context.</summary>
    public IReadOnlyList<StackFrame> WalkStack(DumpThread thread, StackWalkOptions? options = null) =>
        StackWalker.Walk(this, thread, options);

    /// <summary>Walks thread <paramref name="threadId"/>'s stack from <paramref name="start"/> (.ecxr, .cxr, or registers of one's own).</summary>
    public IReadOnlyList<StackFrame> WalkStack(uint threadId, CpuContext start, StackWalkOptions? options = null) =>
        StackWalker.Walk(this, threadId, start, options);

    /// <summary>Walks the exception thread from the exception context; empty without an exception or its context.</summary>
    public IReadOnlyList<StackFrame> WalkExceptionStack(StackWalkOptions? options = null) =>
        Exception is { } e && ExceptionContext is { } context ? StackWalker.Walk(this, e.ThreadId, context, options) : [];
}
