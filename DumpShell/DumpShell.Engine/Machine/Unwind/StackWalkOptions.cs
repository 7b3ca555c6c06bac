using DumpShell.Model;

namespace DumpShell.Machine.Unwind;

/// <summary>How <see cref="StackWalker"/> walks: limits, which fallbacks it may use, and where it finds images and x86 frame data.</summary>
public sealed class StackWalkOptions
{
    public const int DefaultMaxFrames = 256;
    public const int DefaultScanWords = 160;
    /// <summary>The largest <see cref="MaxFrames"/> honoured.</summary>
    public const int MaxFramesLimit = 100_000;
    /// <summary>The largest <see cref="ScanWords"/> honoured.</summary>
    public const int ScanWordsLimit = 16_384;

    /// <summary>Frames returned at most (frame 0 included); the last frame says when the walk stopped here.</summary>
    public int MaxFrames { get; init; } = DefaultMaxFrames;

    /// <summary>Stack slots a scan examines above a frame's stack pointer before it gives up.</summary>
    public int ScanWords { get; init; } = DefaultScanWords;

    /// <summary>Follow the frame-pointer chain (RBP/EBP) where there is no unwind data.</summary>
    public bool UseFramePointer { get; init; } = true;

    /// <summary>Scan the stack for return addresses when nothing better finds the caller.</summary>
    public bool UseScan { get; init; } = true;

    /// <summary>
    /// When the code before a candidate return address is not available (neither in the dump nor in an image file),
    /// accept a candidate that lies in a module (in an executable section when the headers are known) without the
    /// call-instruction check. Breakpad-style dumps hold no code, so without this a scan finds nothing in them.
    /// </summary>
    public bool ScanWithoutCode { get; init; } = true;

    /// <summary>
    /// Finds a module's image file (e.g. in a symbol store: &lt;name&gt;/&lt;TimeDateStamp %08X&gt;&lt;SizeOfImage %X&gt;/&lt;name&gt;);
    /// null when there is none. Used when <see cref="Images"/> is not given. A file whose TimeDateStamp or SizeOfImage
    /// differs from the module's is not used.
    /// </summary>
    public Func<DumpModule, string?>? FindImageFile { get; init; }

    /// <summary>
    /// Images to use (and keep) across walks; when null each walk makes its own from <see cref="FindImageFile"/> and
    /// closes it at the end.
    /// </summary>
    public ImageProvider? Images { get; init; }

    /// <summary>Unwind data for 32-bit code (PDB FPO/FrameData, ...): tried first on x86, before the EBP chain.</summary>
    public IX86FrameDataSource? X86FrameData { get; init; }
}

/// <summary>The 32-bit registers the x86 unwinders read and restore.</summary>
public record struct X86Registers(uint Eip, uint Esp, uint Ebp, uint Ebx, uint Esi, uint Edi, uint Eax, uint Ecx, uint Edx);

/// <summary>One frame to unwind with x86 frame data.</summary>
public sealed class X86UnwindRequest
{
    public required DumpModule Module { get; init; }
    /// <summary>The frame's EIP as an RVA in <see cref="Module"/>.</summary>
    public required uint Rva { get; init; }
    /// <summary>
    /// EIP is a return address (every frame but the context's, unless it came from a trap frame): the call is the
    /// instruction before it, so the data to look up is for <c>Rva - 1</c>.
    /// </summary>
    public required bool IsReturnAddress { get; init; }
    public required X86Registers Registers { get; init; }
    /// <summary>The thread's stack bounds: [StackLow, StackHigh).</summary>
    public required ulong StackLow { get; init; }
    public required ulong StackHigh { get; init; }
    /// <summary>Reads a 32-bit value of process memory; null when the dump does not hold it.</summary>
    public required Func<ulong, uint?> ReadUInt32 { get; init; }
    /// <summary>
    /// The request made for the frame below this one (its callee), whether or not it unwound; null for the context's
    /// frame. Frame data needs the callee's parameter size (Breakpad's <c>.cbCalleeParams</c>): the caller's ESP
    /// points at the arguments it pushed for the callee.
    /// </summary>
    public X86UnwindRequest? Callee { get; init; }
}

/// <summary>
/// The seam for x86 unwind data (FPO records and FrameData programs from PDBs, Breakpad STACK WIN records, ...):
/// given a frame, compute its caller's registers. The walker validates what comes back (the stack pointer must
/// grow and stay on the stack, EIP must be in a module) and labels such frames <see cref="FrameTrust.UnwindInfo"/>.
/// </summary>
public interface IX86FrameDataSource
{
    /// <summary>False when there is no data for the frame (the walker then tries the EBP chain and scanning).</summary>
    bool TryUnwind(X86UnwindRequest request, out X86Registers caller);

    /// <summary>
    /// As <see cref="TryUnwind(X86UnwindRequest, out X86Registers)"/>, and when there was data that did not unwind the
    /// frame, why (for the last frame's <see cref="StackFrame.StopReason"/>); null when there was no data.
    /// </summary>
    bool TryUnwind(X86UnwindRequest request, out X86Registers caller, out string? failure)
    {
        failure = null;
        return TryUnwind(request, out caller);
    }
}
