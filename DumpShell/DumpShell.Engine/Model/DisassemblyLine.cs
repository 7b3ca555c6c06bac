namespace DumpShell.Model;

/// <summary>
/// One line of a disassembly (WinDbg's u, ub, uf): an instruction with its bytes, its text in MASM syntax with
/// symbolized branch targets and memory operands, and the label of its address when it starts a function (or,
/// in a whole-function listing, a branch target). A line whose code is in neither the dump nor an image file
/// says so (<see cref="IsAvailable"/> false) and has no bytes.
/// </summary>
public sealed class DisassemblyLine
{
    public required string DumpPath { get; init; }
    public ulong Address { get; init; }
    /// <summary>The instruction's bytes as lowercase hex, no separators ("c7042500000000"); empty when not available.</summary>
    public required string Bytes { get; init; }
    /// <summary>Its length in bytes; 0 when not available.</summary>
    public int Length { get; init; }
    /// <summary>The instruction in MASM syntax as WinDbg prints it ("call av_null_write_pdb!write_null (0x...)").</summary>
    public required string Instruction { get; init; }
    /// <summary>The mnemonic alone ("mov", "call"); "(bad)" for bytes that do not decode; null when not available.</summary>
    public string? Mnemonic { get; init; }
    /// <summary>
    /// "module!function+0x18" when the line starts a labelled location: the first line of a listing, a function's
    /// first instruction, and in a whole-function listing every branch target inside it; null elsewhere.
    /// </summary>
    public string? Symbol { get; init; }
    /// <summary>
    /// Where a branch or call goes: the target of a direct one; for an indirect one through a fixed address (an import
    /// slot: call qword ptr [rip+...]) the pointer the dump holds there. Null otherwise.
    /// </summary>
    public ulong? Target { get; init; }
    /// <summary>The symbol of <see cref="Target"/> when it lies in a module.</summary>
    public string? TargetSymbol { get; init; }
    public bool IsCall { get; init; }
    public bool IsReturn { get; init; }
    /// <summary>False for a line that only says the code is not in the dump or an image file.</summary>
    public bool IsAvailable { get; init; } = true;
    /// <summary>The dump's pointer size in bytes (4 or 8): how wide addresses print.</summary>
    public int PointerSize { get; init; } = 8;
}
