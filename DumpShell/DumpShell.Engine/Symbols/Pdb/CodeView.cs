using static DumpShell.Symbols.Pdb.PdbText;

namespace DumpShell.Symbols.Pdb;

/// <summary>CodeView symbol record kinds and debug subsection kinds used here (cvinfo.h SYM_ENUM_e, DEBUG_S_SUBSECTION_TYPE).</summary>
internal static class CodeView
{
    public const ushort S_END = 0x0006;
    public const ushort S_FRAMEPROC = 0x1012;
    public const ushort S_PUB32 = 0x110E;
    public const ushort S_LPROC32 = 0x110F;
    public const ushort S_GPROC32 = 0x1110;
    public const ushort S_LPROC32_ID = 0x1146;
    public const ushort S_GPROC32_ID = 0x1147;
    public const ushort S_LPROC32_DPC = 0x1155;
    public const ushort S_LPROC32_DPC_ID = 0x1156;

    public const uint DEBUG_S_IGNORE = 0x8000_0000;
    public const uint DEBUG_S_LINES = 0xF2;
    public const uint DEBUG_S_FILECHKSMS = 0xF4;
    public const ushort CV_LINES_HAVE_COLUMNS = 1;

    /// <summary>Line numbers the compiler uses for code that belongs to no source line.</summary>
    public const uint HiddenLine1 = 0xFEEFEE;
    public const uint HiddenLine2 = 0xF00F00;

    public static bool IsProcedure(ushort kind) => kind is S_LPROC32 or S_GPROC32 or S_LPROC32_ID or S_GPROC32_ID
        or S_LPROC32_DPC or S_LPROC32_DPC_ID;

    public static bool IsGlobalProcedure(ushort kind) => kind is S_GPROC32 or S_GPROC32_ID;

    /// <summary>
    /// Steps to the next symbol record: u16 length (of what follows it), u16 kind, data. Returns false at the
    /// end, or when the length is too small or runs past the buffer (the rest is unusable then).
    /// </summary>
    public static bool NextRecord(ReadOnlySpan<byte> data, ref int pos, out int start, out ushort kind, out int end)
    {
        start = pos;
        kind = 0;
        end = pos;
        if (!Has(data, pos, 4)) return false;
        int length = U16(data, pos);
        if (length < 2 || pos + 2 + length > data.Length) return false;
        kind = U16(data, pos + 2);
        end = pos + 2 + length;
        pos = end;
        return true;
    }
}

/// <summary>A line table entry, its address already mapped to an image RVA.</summary>
internal readonly record struct LineEntry(uint Rva, uint Line, uint FileChecksumOffset);

/// <summary>One DEBUG_S_LINES subsection: the code range it covers and its entries (sorted by RVA) in the module's entry array.</summary>
internal readonly record struct LineRange(uint Rva, uint Size, int First, int Count)
{
    public bool Contains(uint rva) => rva >= Rva && rva - Rva < Size;
}

/// <summary>
/// What one module stream holds for lookups: its procedures and its C13 line tables.
/// </summary>
/// <remarks>
/// Module stream layout (LLVM "The Module Information Stream"): a u32 signature (4 = C13), CodeView symbol
/// records up to SymbolByteSize, C11 lines (skipped), C13 debug subsections (C13ByteSize), global refs.
/// Procedure records (S_GPROC32 and friends): pParent, pEnd, pNext, length, debug start, debug end, type,
/// offset, segment, flags, name. C13 subsections: u32 kind, u32 length, data, padded to 4. DEBUG_S_LINES:
/// offCon, segCon, flags, cbCon, then blocks (file checksum offset, line count, block size, CV_Line_t
/// {offset, line:24 | deltaEnd:7 | statement:1} × count, CV_Column_t × count if flags has columns).
/// DEBUG_S_FILECHKSMS: records (name index into /names, checksum size, checksum kind, checksum), each padded
/// to 4. Everything is bounds-checked; a record that does not fit ends its list.
/// </remarks>
internal sealed class PdbModuleData
{
    public static readonly PdbModuleData Empty = new([], [], [], new Dictionary<uint, uint>());

    public PdbFunction[] Functions { get; }
    public LineRange[] LineRanges { get; }
    public LineEntry[] Lines { get; }
    /// <summary>Offset of a record in the DEBUG_S_FILECHKSMS subsection → name index in /names.</summary>
    public IReadOnlyDictionary<uint, uint> FileNames { get; }

    private PdbModuleData(PdbFunction[] functions, LineRange[] ranges, LineEntry[] lines, IReadOnlyDictionary<uint, uint> files)
    {
        Functions = functions;
        LineRanges = ranges;
        Lines = lines;
        FileNames = files;
    }

    public delegate uint? RvaMapper(ushort section, uint offset);

    public static PdbModuleData Parse(PdbModule module, ReadOnlySpan<byte> stream, RvaMapper toRva, List<string> problems)
    {
        long symbolsEnd = Math.Min(module.SymbolByteSize, (uint)stream.Length);
        long c13Start = (long)module.SymbolByteSize + module.C11ByteSize;
        long c13End = c13Start + module.C13ByteSize;
        if (c13End > stream.Length && module.C13ByteSize > 0)
            problems.Add($"Module {module.Index} ({module.ModuleName}): its symbol and line data sizes exceed its {stream.Length}-byte stream; the part past the end is ignored.");

        var functions = symbolsEnd > 4
            ? ReadFunctions(module, stream[4..(int)symbolsEnd], toRva, problems)
            : [];

        var ranges = new List<LineRange>();
        var lines = new List<LineEntry>();
        var files = new Dictionary<uint, uint>();
        if (c13Start < stream.Length && module.C13ByteSize > 0)
            ReadC13(module, stream[(int)c13Start..(int)Math.Min(c13End, stream.Length)], toRva, ranges, lines, files, problems);

        var rangeArray = ranges.ToArray();
        Array.Sort(rangeArray, static (a, b) => a.Rva.CompareTo(b.Rva));
        return new PdbModuleData(functions, rangeArray, lines.ToArray(), files);
    }

    private static PdbFunction[] ReadFunctions(PdbModule module, ReadOnlySpan<byte> symbols, RvaMapper toRva, List<string> problems)
    {
        var result = new List<PdbFunction>();
        int currentProc = -1;       // index in result of the procedure whose scope we are in
        long currentProcEnd = -1;   // symbol-stream offset of its S_END
        int pos = 0;
        while (pos < symbols.Length)
        {
            if (!CodeView.NextRecord(symbols, ref pos, out int start, out ushort kind, out int end))
            {
                problems.Add($"Module {module.Index} ({module.ModuleName}): symbol record at offset {start + 4} is cut short; later symbols are ignored.");
                break;
            }
            // Offsets inside records (pEnd) count from the start of the module stream, signature included.
            long streamOffset = start + 4;
            if (CodeView.IsProcedure(kind))
            {
                if (end - start < 39) continue;
                uint pEnd = U32(symbols, start + 8);
                uint length = U32(symbols, start + 16);
                uint offset = U32(symbols, start + 32);
                ushort segment = U16(symbols, start + 36);
                byte flags = symbols[start + 38];
                string name = CString(symbols[..end], start + 39);
                uint? rva = toRva(segment, offset);
                if (rva is null) continue;
                result.Add(new PdbFunction(name, rva.Value, length)
                {
                    IsGlobal = CodeView.IsGlobalProcedure(kind),
                    ModuleIndex = module.Index,
                    Section = segment,
                    Offset = offset,
                    ProcedureFlags = flags,
                });
                currentProc = result.Count - 1;
                currentProcEnd = pEnd;
            }
            else if (kind == CodeView.S_FRAMEPROC && currentProc >= 0 && streamOffset < currentProcEnd
                     && result[currentProc].FrameProc is null && end - start >= 30)
            {
                var frame = new PdbFrameProc(U32(symbols, start + 4), U32(symbols, start + 8), U32(symbols, start + 12),
                    U32(symbols, start + 16), U32(symbols, start + 20), U16(symbols, start + 24), U32(symbols, start + 26));
                result[currentProc] = result[currentProc] with { FrameProc = frame };
            }
        }
        var array = result.ToArray();
        Array.Sort(array, static (a, b) => a.Rva != b.Rva ? a.Rva.CompareTo(b.Rva) : b.Size.CompareTo(a.Size));
        return array;
    }

    private static void ReadC13(PdbModule module, ReadOnlySpan<byte> data, RvaMapper toRva,
        List<LineRange> ranges, List<LineEntry> lines, Dictionary<uint, uint> files, List<string> problems)
    {
        int pos = 0;
        while (pos + 8 <= data.Length)
        {
            uint kind = U32(data, pos);
            uint length = U32(data, pos + 4);
            int body = pos + 8;
            if (length > (uint)(data.Length - body))
            {
                problems.Add($"Module {module.Index} ({module.ModuleName}): C13 subsection 0x{kind:X} at offset {pos} runs past the line data; later subsections are ignored.");
                break;
            }
            var subsection = data.Slice(body, (int)length);
            if ((kind & CodeView.DEBUG_S_IGNORE) == 0)
            {
                if (kind == CodeView.DEBUG_S_LINES)
                    ReadLines(subsection, toRva, ranges, lines);
                else if (kind == CodeView.DEBUG_S_FILECHKSMS)
                    ReadChecksums(subsection, files);
            }
            pos = body + Align4((int)length);
        }
    }

    private static void ReadLines(ReadOnlySpan<byte> data, RvaMapper toRva, List<LineRange> ranges, List<LineEntry> lines)
    {
        if (data.Length < 12) return;
        uint contributionOffset = U32(data, 0);
        ushort section = U16(data, 4);
        ushort flags = U16(data, 6);
        uint contributionSize = U32(data, 8);
        uint? start = toRva(section, contributionOffset);
        if (start is null) return;
        bool columns = (flags & CodeView.CV_LINES_HAVE_COLUMNS) != 0;
        int first = lines.Count;
        int pos = 12;
        while (pos + 12 <= data.Length)
        {
            uint fileOffset = U32(data, pos);
            uint count = U32(data, pos + 4);
            uint blockSize = U32(data, pos + 8);
            long needed = 12 + count * (columns ? 12L : 8L);
            if (blockSize < needed || blockSize > (uint)(data.Length - pos)) break;
            for (int i = 0; i < count; i++)
            {
                int p = pos + 12 + 8 * i;
                uint offset = U32(data, p);
                uint line = U32(data, p + 4) & 0x00FF_FFFF;
                uint? rva = offset == 0 ? start : toRva(section, contributionOffset + offset);
                if (rva is not null)
                    lines.Add(new LineEntry(rva.Value, line, fileOffset));
            }
            pos += (int)blockSize;
        }
        int added = lines.Count - first;
        if (added == 0) return;
        lines.Sort(first, added, Comparer<LineEntry>.Create(static (a, b) => a.Rva.CompareTo(b.Rva)));
        ranges.Add(new LineRange(start.Value, contributionSize, first, added));
    }

    private static void ReadChecksums(ReadOnlySpan<byte> data, Dictionary<uint, uint> files)
    {
        int pos = 0;
        while (pos + 6 <= data.Length)
        {
            uint nameIndex = U32(data, pos);
            int checksumSize = data[pos + 4];
            files.TryAdd((uint)pos, nameIndex);
            pos = Align4(pos + 6 + checksumSize);
        }
    }
}
