namespace DumpShell.Symbols.Pdb;

/// <summary>
/// A function: from a module's S_GPROC32/S_LPROC32 (or _ID/_DPC variants) record, or, when
/// <see cref="IsPublic"/>, from an S_PUB32 public symbol because no module symbol covers the address.
/// </summary>
/// <param name="Name">The name as the record has it (decorated for C++ publics).</param>
/// <param name="Rva">Start, relative to the image base.</param>
/// <param name="Size">Code bytes. For a public it is the distance to the next public or the section end.</param>
public sealed record PdbFunction(string Name, uint Rva, uint Size)
{
    /// <summary>Taken from the publics (no private symbol): name and start are right, the size is an estimate.</summary>
    public bool IsPublic { get; init; }

    /// <summary>S_GPROC32 (external linkage) rather than S_LPROC32 (static).</summary>
    public bool IsGlobal { get; init; }

    /// <summary>Index of the DBI module whose stream holds the record; -1 for publics.</summary>
    public int ModuleIndex { get; init; } = -1;

    /// <summary>The record's 1-based section number.</summary>
    public ushort Section { get; init; }

    /// <summary>The record's offset in <see cref="Section"/>.</summary>
    public uint Offset { get; init; }

    /// <summary>The procedure's flags byte (CV_PROCFLAGS: 1 frame pointer omitted, 8 never returns, 0x40 noinline, ...).</summary>
    public byte ProcedureFlags { get; init; }

    /// <summary>The S_FRAMEPROC record nested directly in the procedure, if any.</summary>
    public PdbFrameProc? FrameProc { get; init; }

    /// <summary>One past the last byte.</summary>
    public ulong End => (ulong)Rva + Size;

    /// <summary>True when <paramref name="rva"/> is in [Rva, Rva + Size) (a zero-size function contains only its start).</summary>
    public bool Contains(uint rva) => rva >= Rva && rva - Rva < Math.Max(Size, 1u);
}

/// <summary>S_FRAMEPROC: the frame layout of a procedure.</summary>
/// <param name="Flags">FRAMEPROCSYM flags: 1 alloca, 0x10 C++ EH, 0x40 SEH, 0x80 naked, 0x100 /GS, ...</param>
public sealed record PdbFrameProc(
    uint FrameSize,
    uint PaddingSize,
    uint PaddingOffset,
    uint SavedRegistersSize,
    uint ExceptionHandlerOffset,
    ushort ExceptionHandlerSection,
    uint Flags)
{
    /// <summary>Register that addresses locals (bits 14-15): 0 none, 1 SP, 2 frame pointer (EBP/RBP), 3 EBX/R13.</summary>
    public int LocalBasePointer => (int)((Flags >> 14) & 3);

    /// <summary>Register that addresses parameters (bits 16-17), encoded as <see cref="LocalBasePointer"/>.</summary>
    public int ParamBasePointer => (int)((Flags >> 16) & 3);
}

/// <summary>CV_PUBSYMFLAGS of an S_PUB32 record.</summary>
[Flags]
public enum PdbPublicFlags : uint
{
    None = 0,
    Code = 1,
    Function = 2,
    Managed = 4,
    Msil = 8,
}

/// <summary>An S_PUB32 public symbol that maps to an image address.</summary>
public sealed record PdbPublic(string Name, uint Rva, ushort Section, uint Offset, PdbPublicFlags Flags)
{
    public bool IsFunction => (Flags & PdbPublicFlags.Function) != 0;
    public bool IsCode => (Flags & (PdbPublicFlags.Code | PdbPublicFlags.Function)) != 0;
}

/// <summary>A source line: the line table entry whose code range holds the address asked about.</summary>
/// <param name="File">The source file as the compiler recorded it (often a full path; "" if the file record is missing).</param>
/// <param name="Line">1-based line number.</param>
/// <param name="Rva">Start of the code of this line entry.</param>
/// <param name="Length">Bytes up to the next line entry or the end of the line-table block.</param>
/// <param name="ModuleIndex">The DBI module whose C13 line data holds the entry.</param>
public sealed record PdbLine(string File, uint Line, uint Rva, uint Length, int ModuleIndex);

/// <summary>FPO_DATA frame type (cbFrame).</summary>
public enum PdbFpoFrameType : byte
{
    Fpo = 0,
    Trap = 1,
    Tss = 2,
    NonFpo = 3,
}

/// <summary>An FPO_DATA record (x86 frame pointer omission data; winnt.h, 16 bytes).</summary>
/// <param name="Rva">ulOffStart: first byte of the function.</param>
/// <param name="Size">cbProcSize.</param>
/// <param name="LocalsDwords">cdwLocals: local variable size in DWORDs.</param>
/// <param name="ParamsDwords">cdwParams: parameter size in DWORDs.</param>
/// <param name="PrologSize">cbProlog: prolog bytes.</param>
/// <param name="SavedRegisters">cbRegs: registers saved.</param>
/// <param name="HasSeh">fHasSEH.</param>
/// <param name="UsesBasePointer">fUseBP: EBP has been allocated.</param>
public sealed record PdbFpoData(
    uint Rva,
    uint Size,
    uint LocalsDwords,
    ushort ParamsDwords,
    byte PrologSize,
    byte SavedRegisters,
    bool HasSeh,
    bool UsesBasePointer,
    PdbFpoFrameType FrameType)
{
    public bool Contains(uint rva) => rva >= Rva && rva - Rva < Size;
}

/// <summary>FRAMEDATA flags.</summary>
[Flags]
public enum PdbFrameDataFlags : uint
{
    None = 0,
    HasSeh = 1,
    HasEh = 2,
    IsFunctionStart = 4,
}

/// <summary>A FRAMEDATA record of the "new FPO" stream (x86; 32 bytes) with its frame program string.</summary>
/// <param name="Program">The FrameFunc program ("$T0 $ebp = $eip $T0 4 + ^ = ..."), looked up in /names; null when absent.</param>
public sealed record PdbFrameData(
    uint Rva,
    uint CodeSize,
    uint LocalsSize,
    uint ParamsSize,
    uint MaxStackSize,
    string? Program,
    ushort PrologSize,
    ushort SavedRegistersSize,
    PdbFrameDataFlags Flags)
{
    public bool Contains(uint rva) => rva >= Rva && rva - Rva < CodeSize;
}

/// <summary>A DBI module (compiland): object file or import library member.</summary>
/// <param name="Index">Position in the DBI module list (the "module index" of section contributions).</param>
/// <param name="ModuleName">Object path, "Import:&lt;dll&gt;", or "* Linker *".</param>
/// <param name="ObjectName">The object file, or the library that held it.</param>
/// <param name="SymbolStream">Stream with the module's symbols and line data; -1 when there is none.</param>
/// <param name="SymbolByteSize">Bytes of CodeView symbols at the start of that stream (including its 4-byte signature).</param>
/// <param name="C11ByteSize">Bytes of old C11 line data after the symbols.</param>
/// <param name="C13ByteSize">Bytes of C13 debug subsections (lines, file checksums) after those.</param>
/// <param name="SourceFileCount">Source files contributing to the module.</param>
/// <param name="FirstContribution">The module's first section contribution.</param>
public sealed record PdbModule(
    int Index,
    string ModuleName,
    string ObjectName,
    int SymbolStream,
    uint SymbolByteSize,
    uint C11ByteSize,
    uint C13ByteSize,
    int SourceFileCount,
    ushort Flags,
    PdbSectionContribution FirstContribution);

/// <summary>A DBI section contribution: the bytes a module put into one image section.</summary>
public readonly record struct PdbSectionContribution(
    ushort Section,
    uint Offset,
    uint Size,
    uint Characteristics,
    int ModuleIndex,
    uint DataCrc,
    uint RelocCrc);

/// <summary>A DBI section map entry (OMF segment descriptor).</summary>
public readonly record struct PdbSectionMapEntry(
    ushort Flags,
    ushort Overlay,
    ushort Group,
    ushort Frame,
    ushort SectionName,
    ushort ClassName,
    uint Offset,
    uint Length);

/// <summary>
/// The DBI optional debug header: stream indices of extra debug data (-1 when absent). Slots as in
/// microsoft-pdb's DBGTYPE / LLVM's DbgHeaderType.
/// </summary>
public sealed record PdbDebugStreams(IReadOnlyList<int> Streams)
{
    /// <summary>Slot 0: FPO_DATA array (x86).</summary>
    public int Fpo => Get(0);
    public int Exception => Get(1);
    public int Fixup => Get(2);
    /// <summary>Slot 3: OMAP from the image's addresses to the PDB's (pre-instrumentation) addresses.</summary>
    public int OmapToSource => Get(3);
    /// <summary>Slot 4: OMAP from the PDB's addresses to the image's.</summary>
    public int OmapFromSource => Get(4);
    /// <summary>Slot 5: the image's IMAGE_SECTION_HEADER array ("SectionHdr").</summary>
    public int SectionHeaders => Get(5);
    public int TokenRidMap => Get(6);
    public int Xdata => Get(7);
    public int Pdata => Get(8);
    /// <summary>Slot 9: "new FPO" data, FRAMEDATA records (x86).</summary>
    public int FrameData => Get(9);
    /// <summary>Slot 10: section headers before binary rewriting (used with the OMAP tables).</summary>
    public int OriginalSectionHeaders => Get(10);

    public int Get(int slot) => slot >= 0 && slot < Streams.Count ? Streams[slot] : -1;
}
