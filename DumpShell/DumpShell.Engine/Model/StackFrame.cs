namespace DumpShell.Model;

/// <summary>How a frame was found, best first (rust-minidump's FrameTrust): how far to believe it.</summary>
public enum FrameTrust
{
    /// <summary>The thread's (or the exception's) register context: frame 0.</summary>
    Context,
    /// <summary>Unwound with the module's unwind data (x64 .pdata/.xdata, PDB frame data, Breakpad CFI).</summary>
    UnwindInfo,
    /// <summary>Followed the frame-pointer chain (EBP/RBP).</summary>
    FramePointer,
    /// <summary>A value on the stack that points just after a call instruction in executable module code.</summary>
    Scan,
}

/// <summary>What code a frame runs: native code, a managed method (ClrMD), or a runtime frame (SOS's [InlinedCallFrame] etc.).</summary>
public enum StackFrameKind
{
    Native,
    /// <summary>A managed method: JIT-compiled (<see cref="StackFrame.IsJitCode"/>) or precompiled (ReadyToRun/NGEN).</summary>
    Managed,
    /// <summary>A CLR transition frame (an explicit Frame of the runtime: InlinedCallFrame, HelperMethodFrame, ...).</summary>
    Runtime,
}

/// <summary>One frame of a thread's stack (WinDbg's k, kn, kv).</summary>
public sealed class StackFrame
{
    public required string DumpPath { get; init; }
    public uint ThreadId { get; init; }
    /// <summary>Frame number, 0 at the top (kn).</summary>
    public int Frame { get; init; }
    /// <summary>The stack pointer in this frame (WinDbg's Child-SP).</summary>
    public ulong ChildSP { get; init; }
    /// <summary>Where this frame returns to: the next frame's instruction pointer; null for the last frame.</summary>
    public ulong? ReturnAddress { get; set; }
    public ulong InstructionPointer { get; init; }
    public ulong? FramePointer { get; init; }
    public string? Module { get; set; }
    public string? Function { get; set; }
    /// <summary>Offset of the instruction pointer from the function's start (or the module's base without a function).</summary>
    public ulong? Offset { get; set; }
    /// <summary>"module!function+0xoffset", "module+0xoffset", or the bare address.</summary>
    public string? Symbol { get; set; }
    public string? SourceFile { get; set; }
    public int? Line { get; set; }
    public FrameTrust Trust { get; init; }
    /// <summary>Why the walk stopped after this frame, on the last frame; null elsewhere.</summary>
    public string? StopReason { get; set; }
    public int PointerSize { get; init; } = 8;
    /// <summary>Native by default; Managed or Runtime for the frames ClrMD reports (Get-DumpStack on a dump with a CLR).</summary>
    public StackFrameKind Kind { get; set; }
    /// <summary>True when the frame runs JIT-compiled code (private executable memory the runtime wrote), not code in an image.</summary>
    public bool IsJitCode { get; set; }
    /// <summary>A managed frame's method with its signature, e.g. "App.Program.C()".</summary>
    public string? ManagedMethod { get; set; }
    /// <summary>
    /// kv's first four argument slots (Get-DumpStack -Parameters), null where the dump does not hold the slot; null
    /// without -Parameters or when the slots cannot be located. x64: the home area the caller reserved above this
    /// frame's return address, which the callee need not have written (see <see cref="ArgumentsSource"/>); x86: the
    /// stack slots above the return address ([EBP+8], [EBP+0xC], ...).
    /// </summary>
    public ulong?[]? Arguments { get; set; }
    /// <summary>Where <see cref="Arguments"/> come from: "HomeArea (unverified)" (x64) or "Stack" (x86).</summary>
    public string? ArgumentsSource { get; set; }
}
