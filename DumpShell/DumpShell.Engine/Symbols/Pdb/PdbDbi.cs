using static DumpShell.Symbols.Pdb.PdbText;

namespace DumpShell.Symbols.Pdb;

/// <summary>
/// The DBI (debug information) stream, stream 3: header (new format), module list, section contributions,
/// section map, file info, optional debug header.
/// </summary>
/// <remarks>
/// Layout (LLVM "The PDB DBI Stream", pdb-rs docs/pdb/dbi.md): a 64-byte header, then the substreams in
/// this order, each as long as the header says: module info, section contributions, section map, file info,
/// type server map, EC, optional debug header. Substream sizes that are negative or overrun the stream throw
/// <see cref="PdbFormatException"/>; a record cut short inside a substream ends that list (noted in problems).
/// </remarks>
public sealed class PdbDbi
{
    public const int HeaderSize = 64;
    public const uint SectionContributionsVer60 = 0xEFFE0000 + 19970605;
    public const uint SectionContributionsV2 = 0xEFFE0000 + 20140516;
    private const int ModuleInfoFixedSize = 64;

    private readonly byte[] _fileInfo;
    private IReadOnlyList<string>[]? _sourceFiles;

    /// <summary>-1 for the new (VC4.1+) header format, the only one read.</summary>
    public int VersionSignature { get; }
    /// <summary>DBIImpv*: 19990903 (V70) in practice.</summary>
    public uint Version { get; }
    /// <summary>The age that matches the executable's RSDS record (see <see cref="PdbFile.Age"/>).</summary>
    public uint Age { get; }
    public int GlobalSymbolStream { get; }
    public ushort BuildNumber { get; }
    public int PublicSymbolStream { get; }
    public ushort PdbDllVersion { get; }
    public int SymbolRecordStream { get; }
    public ushort PdbDllRebuild { get; }
    public uint MfcTypeServerIndex { get; }
    /// <summary>1 incrementally linked, 2 private symbols stripped, 4 conflicting types.</summary>
    public ushort Flags { get; }
    /// <summary>IMAGE_FILE_MACHINE_* / CV_CPU_TYPE: 0x8664 x64, 0x14C x86, 0xAA64 ARM64.</summary>
    public ushort Machine { get; }

    public bool IsStripped => (Flags & 2) != 0;

    public IReadOnlyList<PdbModule> Modules { get; }
    public IReadOnlyList<PdbSectionContribution> SectionContributions { get; }
    public IReadOnlyList<PdbSectionMapEntry> SectionMap { get; }
    public PdbDebugStreams DebugStreams { get; }

    private PdbDbi(ReadOnlySpan<byte> data, List<string> problems)
    {
        if (data.Length < HeaderSize)
            throw new PdbFormatException($"The DBI stream is {data.Length} bytes; its header needs {HeaderSize}.");
        VersionSignature = I32(data, 0);
        if (VersionSignature != -1)
            throw new PdbFormatException($"The DBI stream has the old (pre-VC4.1) header format (signature {VersionSignature}), which is not supported.");
        Version = U32(data, 4);
        Age = U32(data, 8);
        GlobalSymbolStream = StreamIndex(U16(data, 12));
        BuildNumber = U16(data, 14);
        PublicSymbolStream = StreamIndex(U16(data, 16));
        PdbDllVersion = U16(data, 18);
        SymbolRecordStream = StreamIndex(U16(data, 20));
        PdbDllRebuild = U16(data, 22);
        MfcTypeServerIndex = U32(data, 44);
        Flags = U16(data, 56);
        Machine = U16(data, 58);

        // Substream sizes at 24 (modules), 28 (section contributions), 32 (section map), 36 (file info),
        // 40 (type server map), 52 (EC), 48 (optional debug header); stored in that order after the header.
        int[] sizeOffsets = [24, 28, 32, 36, 40, 52, 48];
        string[] names = ["module info", "section contribution", "section map", "file info", "type server map", "EC", "optional debug header"];
        var starts = new int[7];
        var lengths = new int[7];
        long position = HeaderSize;
        for (int i = 0; i < 7; i++)
        {
            int size = I32(data, sizeOffsets[i]);
            if (size < 0 || position + size > data.Length)
                throw new PdbFormatException($"The DBI {names[i]} substream size {size} does not fit in the {data.Length}-byte DBI stream (it would start at {position}).");
            starts[i] = (int)position;
            lengths[i] = size;
            position += size;
        }

        Modules = ReadModules(data.Slice(starts[0], lengths[0]), problems);
        SectionContributions = ReadSectionContributions(data.Slice(starts[1], lengths[1]), problems);
        SectionMap = ReadSectionMap(data.Slice(starts[2], lengths[2]));
        _fileInfo = data.Slice(starts[3], lengths[3]).ToArray();
        var debug = data.Slice(starts[6], lengths[6]);
        var slots = new int[debug.Length / 2];
        for (int i = 0; i < slots.Length; i++)
            slots[i] = StreamIndex(U16(debug, 2 * i));
        DebugStreams = new PdbDebugStreams(slots);
    }

    internal static PdbDbi Parse(ReadOnlySpan<byte> data, List<string> problems) => new(data, problems);

    private static List<PdbModule> ReadModules(ReadOnlySpan<byte> data, List<string> problems)
    {
        var modules = new List<PdbModule>();
        int pos = 0;
        while (pos < data.Length)
        {
            if (!Has(data, pos, ModuleInfoFixedSize))
            {
                problems.Add($"The DBI module info substream ends inside module record {modules.Count}.");
                break;
            }
            var contribution = ReadContribution(data, pos + 4);
            ushort flags = U16(data, pos + 32);
            int stream = StreamIndex(U16(data, pos + 34));
            uint symBytes = U32(data, pos + 36);
            uint c11Bytes = U32(data, pos + 40);
            uint c13Bytes = U32(data, pos + 44);
            ushort fileCount = U16(data, pos + 48);
            string moduleName = CString(data, pos + ModuleInfoFixedSize, out int next);
            string objectName = CString(data, next, out next);
            modules.Add(new PdbModule(modules.Count, moduleName, objectName, stream, symBytes, c11Bytes, c13Bytes,
                fileCount, flags, contribution));
            pos = Align4(next);
        }
        return modules;
    }

    private static PdbSectionContribution ReadContribution(ReadOnlySpan<byte> data, int pos) => new(
        Section: U16(data, pos),
        Offset: U32(data, pos + 4),
        Size: U32(data, pos + 8),
        Characteristics: U32(data, pos + 12),
        ModuleIndex: U16(data, pos + 16),
        DataCrc: U32(data, pos + 20),
        RelocCrc: U32(data, pos + 24));

    private static PdbSectionContribution[] ReadSectionContributions(ReadOnlySpan<byte> data, List<string> problems)
    {
        if (data.Length < 4) return [];
        uint version = U32(data, 0);
        int entrySize = version switch
        {
            SectionContributionsVer60 => 28,
            SectionContributionsV2 => 32,
            _ => 0,
        };
        if (entrySize == 0)
        {
            problems.Add($"Unknown DBI section contribution version 0x{version:X8}; contributions not read.");
            return [];
        }
        int count = (data.Length - 4) / entrySize;
        var result = new PdbSectionContribution[count];
        for (int i = 0; i < count; i++)
            result[i] = ReadContribution(data, 4 + i * entrySize);
        return result;
    }

    private static PdbSectionMapEntry[] ReadSectionMap(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4) return [];
        int count = Math.Min(U16(data, 0), (data.Length - 4) / 20);
        var result = new PdbSectionMapEntry[count];
        for (int i = 0; i < count; i++)
        {
            int p = 4 + 20 * i;
            result[i] = new PdbSectionMapEntry(U16(data, p), U16(data, p + 2), U16(data, p + 4), U16(data, p + 6),
                U16(data, p + 8), U16(data, p + 10), U32(data, p + 12), U32(data, p + 16));
        }
        return result;
    }

    /// <summary>
    /// The source files of a module from the file info substream (NumModules, NumSourceFiles (ignored),
    /// module indices, per-module file counts, name offsets, names buffer). Empty when the substream does not
    /// describe that module.
    /// </summary>
    public IReadOnlyList<string> GetSourceFiles(int moduleIndex)
    {
        var all = _sourceFiles ??= ReadFileInfo(_fileInfo);
        return (uint)moduleIndex < (uint)all.Length ? all[moduleIndex] : [];
    }

    private static IReadOnlyList<string>[] ReadFileInfo(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4) return [];
        int moduleCount = U16(data, 0);
        int countsAt = 4 + 2 * moduleCount;
        int offsetsAt = countsAt + 2 * moduleCount;
        if (offsetsAt > data.Length) return [];
        long totalFiles = 0;
        for (int m = 0; m < moduleCount; m++)
            totalFiles += U16(data, countsAt + 2 * m);
        long namesAt = offsetsAt + 4 * totalFiles;
        if (namesAt > data.Length) return [];
        var names = data[(int)namesAt..];
        var result = new IReadOnlyList<string>[moduleCount];
        int fileIndex = 0;
        for (int m = 0; m < moduleCount; m++)
        {
            int count = U16(data, countsAt + 2 * m);
            var files = new string[count];
            for (int f = 0; f < count; f++, fileIndex++)
                files[f] = CString(names, (int)U32(data, offsetsAt + 4 * fileIndex));
            result[m] = files;
        }
        return result;
    }
}
