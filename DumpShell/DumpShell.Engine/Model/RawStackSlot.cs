using DumpShell.Machine.Unwind;

namespace DumpShell.Model;

/// <summary>
/// One pointer-sized slot of a thread's stack (WinDbg's dps over the stack range): the value it holds, the symbol
/// of that value when it points into a module, and whether a call instruction ends right before it.
/// </summary>
public sealed class RawStackSlot
{
    public required string DumpPath { get; init; }
    public uint ThreadId { get; init; }
    /// <summary>The slot's address on the stack.</summary>
    public ulong Address { get; init; }
    /// <summary>The pointer-sized value in the slot; null when the dump does not hold it.</summary>
    public ulong? Value { get; init; }
    /// <summary>"module!function+0x1a" (or "module+0x1234") when the value points into a module; null otherwise.</summary>
    public string? Symbol { get; init; }
    /// <summary>
    /// The value points into executable module code right after a call instruction: the return address of a call
    /// that was made (execution residue: a live frame or an earlier call's leftover).
    /// </summary>
    public bool IsReturnAddress { get; init; }
    /// <summary>
    /// The value points into a module's code (or a module whose sections are unknown) but no call is known to end
    /// right before it: coincidental symbolic information, a function pointer, or a return address whose code is
    /// not available (see <see cref="CallSite"/>).
    /// </summary>
    public bool LooksLikeCode { get; init; }
    /// <summary>What the code before the value says (Call, NotCall, Unknown when not available); null for a value not in module code.</summary>
    public CallSiteVerdict? CallSite { get; init; }
    /// <summary>The dump's pointer size in bytes (4 or 8): the slot size and how wide addresses print.</summary>
    public int PointerSize { get; init; } = 8;
}
