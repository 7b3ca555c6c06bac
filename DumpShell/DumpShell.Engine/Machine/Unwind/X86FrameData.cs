using DumpShell.Model;
using DumpShell.Symbols.Breakpad;
using DumpShell.Symbols.Pdb;

namespace DumpShell.Machine.Unwind;

/// <summary>What an x86 frame record describes.</summary>
public enum X86FrameKind
{
    /// <summary>PDB FRAMEDATA / Breakpad STACK WIN type 4: a program string (or, without one, an FPO-like frame).</summary>
    FrameData,
    /// <summary>FPO_DATA FRAME_FPO / STACK WIN type 0: no frame pointer; the frame is located from ESP.</summary>
    Fpo,
    /// <summary>FPO_DATA FRAME_NONFPO: a standard EBP frame (push ebp; mov ebp, esp).</summary>
    Standard,
    /// <summary>FPO_DATA FRAME_TRAP: a kernel trap frame; not unwound here.</summary>
    Trap,
    /// <summary>FPO_DATA FRAME_TSS: a task-switch frame; not unwound here.</summary>
    Tss,
}

/// <summary>
/// One x86 frame record, whatever its source: a PDB FRAMEDATA or FPO_DATA record, or a Breakpad STACK WIN record.
/// Sizes are in bytes (FPO_DATA's DWORD and register counts are multiplied out).
/// </summary>
/// <param name="Rva">The record's first byte, in the address space of its source (the PDB's own under OMAP).</param>
/// <param name="Source">"PDB FRAMEDATA", "PDB FPO", "STACK WIN 4", "STACK WIN 0".</param>
public sealed record X86FrameRecord(
    X86FrameKind Kind, uint Rva, uint Size, uint PrologSize, uint ParametersSize, uint SavedRegistersSize, uint LocalsSize,
    uint MaxStackSize, string? Program, bool AllocatesBasePointer, string Source)
{
    public static X86FrameRecord From(PdbFrameData f) => new(X86FrameKind.FrameData, f.Rva, f.CodeSize, f.PrologSize, f.ParamsSize,
        f.SavedRegistersSize, f.LocalsSize, f.MaxStackSize, string.IsNullOrWhiteSpace(f.Program) ? null : f.Program, false, "PDB FRAMEDATA");

    public static X86FrameRecord From(PdbFpoData f) => new(
        f.FrameType switch
        {
            PdbFpoFrameType.Trap => X86FrameKind.Trap,
            PdbFpoFrameType.Tss => X86FrameKind.Tss,
            PdbFpoFrameType.NonFpo => X86FrameKind.Standard,
            _ => X86FrameKind.Fpo,
        },
        f.Rva, f.Size, f.PrologSize, Clamp(4UL * f.ParamsDwords), 4U * f.SavedRegisters, Clamp(4UL * f.LocalsDwords), 0, null,
        f.UsesBasePointer, "PDB FPO");

    /// <summary>A STACK WIN record of type 4 (FrameData) or 0 (FPO); null for other types.</summary>
    public static X86FrameRecord? From(BreakpadStackWin w) => w.Type switch
    {
        BreakpadStackWin.FrameDataType => new(X86FrameKind.FrameData, Clamp(w.Rva), Clamp(w.CodeSize), Clamp(w.PrologueSize),
            Clamp(w.ParameterSize), Clamp(w.SavedRegisterSize), Clamp(w.LocalSize), Clamp(w.MaxStackSize),
            w.HasProgramString && !string.IsNullOrWhiteSpace(w.ProgramString) ? w.ProgramString : null, w.AllocatesBasePointer, "STACK WIN 4"),
        BreakpadStackWin.FpoType => new(X86FrameKind.Fpo, Clamp(w.Rva), Clamp(w.CodeSize), Clamp(w.PrologueSize),
            Clamp(w.ParameterSize), Clamp(w.SavedRegisterSize), Clamp(w.LocalSize), Clamp(w.MaxStackSize),
            w.HasProgramString && !string.IsNullOrWhiteSpace(w.ProgramString) ? w.ProgramString : null, w.AllocatesBasePointer, "STACK WIN 0"),
        _ => null,
    };

    private static uint Clamp(ulong v) => (uint)Math.Min(v, uint.MaxValue);
}

/// <summary>
/// x86 unwinding from frame data: PDB FRAMEDATA ("NewFPO") records with their program strings and FPO_DATA records,
/// and Breakpad STACK WIN records, run by <see cref="FrameProgram"/> the way Breakpad's x86 stack walker does.
/// </summary>
/// <remarks>
/// <para>Lookup: the frame's RVA (minus one for a return address, so that a call ending a function finds that
/// function's record); in the module's PDB the innermost FRAMEDATA record, else its FPO record; else the module's
/// .sym file's STACK WIN record (type 4 before type 0).</para>
/// <para>Inputs to the program: <c>$esp $ebp $ebx $esi $edi</c> (the frame's registers); <c>.cbLocals .cbParams
/// .cbSavedRegs .cbMaxStack</c> (the record); <c>.cbCalleeParams</c> (the parameter bytes of the frame below, from
/// its record, 0 for the context's frame or when it has none); <c>.raSearch</c> = <c>.raSearchStart</c> = ESP +
/// .cbCalleeParams + .cbLocals + .cbSavedRegs: where the return address should be; when the program aligns
/// (<c>@</c>, a function that aligned ESP) EBP + 4 instead, as in Breakpad.</para>
/// <para>Records without a program: FPO frames run Breakpad's programs (<c>$eip .raSearchStart ^ = $esp
/// .raSearchStart 4 + =</c>, and with fUseBP / allocates_base_pointer also <c>$ebp $esp .cbCalleeParams +
/// .cbSavedRegs + 8 - ^ =</c>); FRAME_NONFPO records the standard EBP frame's program, except in the prolog of the
/// context's frame; trap and TSS frames are not unwound.</para>
/// <para>Outputs: <c>$eip</c> and <c>$esp</c> must be assigned; <c>$ebp $ebx $esi $edi</c> are the caller's when
/// assigned, else carried over (callee-saved registers the function did not save are unchanged). Unlike Breakpad
/// there is no stack scan to correct <c>.raSearch</c> or the return address: when the program's result is not a
/// valid frame the walker falls back to the EBP chain and scanning, and says so in the frame's Trust.</para>
/// <para>Nothing here throws for symbol or dump content: a failing program, a read outside the dump or a
/// missing record is "cannot unwind".</para>
/// </remarks>
public sealed class X86FrameData : IX86FrameDataSource
{
    /// <summary>The standard EBP frame: the caller's EBP at [EBP], the return address above it.</summary>
    public const string EbpFrameProgram = "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =";
    /// <summary>Breakpad's program for an FPO frame that does not use EBP.</summary>
    public const string FpoProgram = "$eip .raSearchStart ^ = $esp .raSearchStart 4 + =";
    /// <summary>Breakpad's program for an FPO frame that allocates EBP for other uses (fUseBP): EBP is in the saved registers.</summary>
    public const string FpoBasePointerProgram = "$eip .raSearchStart ^ = $ebp $esp .cbCalleeParams + .cbSavedRegs + 8 - ^ = $esp .raSearchStart 4 + =";

    private readonly Func<DumpModule, PdbFile?>? _pdb;
    private readonly Func<DumpModule, SymbolFile?>? _breakpad;

    /// <param name="pdb">The module's PDB (matched to it), or null.</param>
    /// <param name="breakpad">The module's Breakpad symbol file, or null.</param>
    public X86FrameData(Func<DumpModule, PdbFile?>? pdb, Func<DumpModule, SymbolFile?>? breakpad = null)
    {
        _pdb = pdb;
        _breakpad = breakpad;
    }

    /// <summary>The record covering <paramref name="rva"/> in <paramref name="module"/>; null when no source has one.</summary>
    public X86FrameRecord? Find(DumpModule module, uint rva)
    {
        try
        {
            if (_pdb?.Invoke(module) is { } pdb)
            {
                if (pdb.FrameDataAt(rva) is { } frameData) return X86FrameRecord.From(frameData);
                if (pdb.FpoAt(rva) is { } fpo) return X86FrameRecord.From(fpo);
            }
            if (_breakpad?.Invoke(module) is { } sym && sym.FindStackWin(rva) is { } win) return X86FrameRecord.From(win);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PdbFormatException or InvalidDataException or ObjectDisposedException)
        {
            // A symbol file that cannot be read gives no frame data.
        }
        return null;
    }

    /// <summary>The program run for <paramref name="record"/>: its own, or the one for its kind; null for trap and TSS frames.</summary>
    public static string? ProgramFor(X86FrameRecord record) => record.Kind switch
    {
        X86FrameKind.Standard => EbpFrameProgram,
        X86FrameKind.Trap or X86FrameKind.Tss => null,
        _ => record.Program ?? (record.AllocatesBasePointer ? FpoBasePointerProgram : FpoProgram),
    };

    public bool TryUnwind(X86UnwindRequest request, out X86Registers caller) => TryUnwind(request, out caller, out _);

    /// <summary>As <see cref="TryUnwind(X86UnwindRequest, out X86Registers)"/>; <paramref name="failure"/> says why a record that was found did not unwind (null when there was no record).</summary>
    public bool TryUnwind(X86UnwindRequest request, out X86Registers caller, out string? failure)
    {
        caller = default;
        failure = null;
        uint rva = LookupRva(request);
        if (Find(request.Module, rva) is not { } record) return false;
        string where = $"{record.Source} for {request.Module.Name}+0x{rva:x}";

        string? program = ProgramFor(record);
        if (program is null)
        {
            failure = $"{where} describes a {(record.Kind == X86FrameKind.Trap ? "trap" : "task-switch")} frame, which is not unwound";
            return false;
        }
        if (record.Kind == X86FrameKind.Standard && !request.IsReturnAddress && rva >= record.Rva && rva - record.Rva < record.PrologSize)
        {
            failure = $"{where}: the instruction pointer is in the prolog, before the EBP frame is set up";
            return false;
        }

        uint calleeParams = 0;
        if (request.Callee is { } callee && Find(callee.Module, LookupRva(callee)) is { Kind: not (X86FrameKind.Trap or X86FrameKind.Tss) } calleeRecord)
            calleeParams = calleeRecord.ParametersSize;

        var r = request.Registers;
        uint raSearch = unchecked(r.Esp + calleeParams + record.LocalsSize + record.SavedRegistersSize);
        if (program.Contains('@')) raSearch = unchecked(r.Ebp + 4);
        var variables = new Dictionary<string, uint>(StringComparer.Ordinal)
        {
            ["$esp"] = r.Esp, ["$ebp"] = r.Ebp, ["$ebx"] = r.Ebx, ["$esi"] = r.Esi, ["$edi"] = r.Edi,
            [".cbCalleeParams"] = calleeParams,
            [".cbSavedRegs"] = record.SavedRegistersSize,
            [".cbLocals"] = record.LocalsSize,
            [".cbParams"] = record.ParametersSize,
            [".cbMaxStack"] = record.MaxStackSize,
            [".raSearch"] = raSearch,
            [".raSearchStart"] = raSearch,
        };
        var read = request.ReadUInt32;
        var result = FrameProgram.Evaluate(program, variables, a => a > uint.MaxValue ? null : read(a));
        if (!result.Success)
        {
            failure = $"{where}: the program failed: {result.Error}";
            return false;
        }
        if (result.AssignedValue("$eip") is not { } eip || result.AssignedValue("$esp") is not { } esp)
        {
            failure = $"{where}: the program does not set both $eip and $esp";
            return false;
        }
        caller = r with
        {
            Eip = eip,
            Esp = esp,
            Ebp = result.AssignedValue("$ebp") ?? r.Ebp,
            Ebx = result.AssignedValue("$ebx") ?? r.Ebx,
            Esi = result.AssignedValue("$esi") ?? r.Esi,
            Edi = result.AssignedValue("$edi") ?? r.Edi,
        };
        return true;
    }

    private static uint LookupRva(X86UnwindRequest request) =>
        request.IsReturnAddress && request.Rva > 0 ? request.Rva - 1 : request.Rva;
}
