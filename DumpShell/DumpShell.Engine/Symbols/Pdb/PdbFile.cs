using DumpShell.Symbols.Pe;
using static DumpShell.Symbols.Pdb.PdbText;

namespace DumpShell.Symbols.Pdb;

/// <summary>
/// A native PDB (MSF 7.00) read for symbolization: identity (GUID, age), functions, publics, source lines,
/// and x86 frame data, with addresses as RVAs of the image the PDB describes.
/// </summary>
/// <remarks>
/// <para><see cref="Open"/> reads the superblock, stream directory, PDB info stream, DBI stream and section
/// headers, and throws <see cref="PdbFormatException"/> when those are unusable. Everything else is read on
/// first use: a module's symbols and line tables when a lookup lands in that module (the DBI section
/// contributions say which module an RVA belongs to, so a lookup reads one module stream, not all of them),
/// the publics when the publics are asked for or a lookup falls back to them, FPO/frame data on first use.
/// A part that turns out to be damaged gives no results and a line in <see cref="Problems"/>; the lookup
/// methods do not throw for file content.</para>
/// <para>Instances are safe to use from several threads (lazy loads are serialized).</para>
/// </remarks>
public sealed class PdbFile : IDisposable
{
    public const int InfoStreamIndex = 1;
    public const int DbiStreamIndex = 3;
    private const int MaxScanBack = 16;
    private const int MaxPublicRecordBytes = 14 + 4096 + 1;

    private readonly MsfFile _msf;
    private readonly object _lock = new();
    private readonly List<string> _problems = new();
    private readonly PeSection[] _sections;
    private readonly PeSection[] _sourceSections;      // what seg:offset refers to (original headers under OMAP)
    private readonly (uint[] From, uint[] To)? _omapFromSource;
    private readonly (uint[] From, uint[] To)? _omapToSource;
    private readonly PdbModuleData?[] _modules;
    private Contribution[]? _contributions;
    private PdbPublic[]? _publics;
    private PdbFunction[]? _allFunctions;
    private PdbNames? _names;
    private PdbFpoData[]? _fpo;
    private PdbFrameData[]? _frameData;

    private readonly record struct Contribution(uint Rva, uint Size, int Module);

    /// <summary>The file the PDB was opened from, or null for an in-memory copy.</summary>
    public string? Path => _msf.Path;

    /// <summary>The MSF container (streams by index).</summary>
    public MsfFile Msf => _msf;

    /// <summary>The PDB info stream (stream 1).</summary>
    public PdbInfo Info { get; }

    /// <summary>The DBI stream (stream 3); null when the PDB has none (then there are no modules or publics).</summary>
    public PdbDbi? Dbi { get; }

    /// <summary>The GUID an executable's RSDS CodeView record must name.</summary>
    public Guid Guid => Info.Guid;

    /// <summary>
    /// The age an executable's RSDS record must name: the DBI stream's age, or the info stream's when there is no
    /// DBI stream.
    /// </summary>
    /// <remarks>
    /// The PDB info stream and the DBI stream each have an age. The linker writes the same value to both; tools
    /// that rewrite the PDB afterwards (pdbstr / srctool source indexing) bump only the info stream's. DIA's
    /// IDiaSymbol::get_age, dumpbin, and the symbol-store path of the PDB (GUID + age) report the DBI age — e.g.
    /// an ntdll.pdb with info-stream age 3 and DBI age 1 is served as .../ntdll.pdb/&lt;GUID&gt;1/ntdll.pdb and
    /// matches an image whose RSDS age is 1 (LLVM issue 57300; the Rust pdb crate's docs likewise point to the
    /// DBI age for matching). So matching compares this value; <see cref="InfoAge"/> keeps the other.
    /// </remarks>
    public uint Age => Dbi?.Age ?? Info.Age;

    /// <summary>The age in the PDB info stream (can be larger than <see cref="Age"/> after source indexing).</summary>
    public uint InfoAge => Info.Age;

    /// <summary>The symbol-store directory name: GUID as 32 uppercase hex digits, then the age in hex ("CA2AF7B9...2E1").</summary>
    public string SymbolStoreKey => Guid.ToString("N").ToUpperInvariant() + Age.ToString("X");

    /// <summary>IMAGE_FILE_MACHINE_* from the DBI header (0 without DBI).</summary>
    public ushort Machine => Dbi?.Machine ?? 0;

    /// <summary>The image's section headers ("SectionHdr" debug stream): section N of a seg:offset is Sections[N-1].</summary>
    public IReadOnlyList<PeSection> Sections => _sections;

    /// <summary>The DBI modules (compilands).</summary>
    public IReadOnlyList<PdbModule> Modules => Dbi?.Modules ?? [];

    /// <summary>True when the PDB carries OMAP tables (binary-rewritten image); addresses are mapped through them.</summary>
    public bool HasOmap => _omapFromSource is not null;

    /// <summary>What could not be read, in the order found (grows as lazily read parts are loaded).</summary>
    public IReadOnlyList<string> Problems
    {
        get { lock (_lock) return _problems.ToArray(); }
    }

    private PdbFile(MsfFile msf)
    {
        _msf = msf;
        _problems.AddRange(msf.Problems);
        if (!msf.HasStream(InfoStreamIndex))
            throw new PdbFormatException("The PDB has no info stream (stream 1).", msf.Path);
        Info = PdbInfo.Parse(msf.ReadStream(InfoStreamIndex), _problems);

        if (msf.HasStream(DbiStreamIndex))
            Dbi = PdbDbi.Parse(msf.ReadStream(DbiStreamIndex), _problems);
        else
            _problems.Add("The PDB has no DBI stream (stream 3): no modules, publics, lines or frame data.");

        _modules = new PdbModuleData?[Modules.Count];
        _sections = [];
        _sourceSections = [];
        if (Dbi is null) return;

        var debug = Dbi.DebugStreams;
        _sections = Guard<PeSection[]>("Section headers", () => ReadSections(debug.SectionHeaders), []);
        if (_sections.Length == 0)
            _problems.Add("The PDB has no section headers (DBI debug stream \"SectionHdr\"), so no address can be mapped to an RVA.");
        _sourceSections = _sections;

        if (_msf.HasStream(debug.OmapFromSource))
        {
            var original = Guard<PeSection[]>("Original section headers", () => ReadSections(debug.OriginalSectionHeaders), []);
            var omap = Guard<(uint[] From, uint[] To)>("OMAP from source", () => PdbFrameTables.ReadOmap(_msf.ReadStream(debug.OmapFromSource)), ([], []));
            if (original.Length > 0 && omap.Item1.Length > 0)
            {
                _sourceSections = original;
                _omapFromSource = omap;
                var back = Guard<(uint[] From, uint[] To)>("OMAP to source", () => PdbFrameTables.ReadOmap(_msf.ReadStream(debug.OmapToSource)), ([], []));
                if (back.Item1.Length > 0) _omapToSource = back;
            }
        }
    }

    /// <summary>Opens a PDB file (memory-mapped; streams are read when needed).</summary>
    /// <exception cref="PdbFormatException">Not an MSF 7.00 PDB, or its directory, info or DBI stream is unusable.</exception>
    public static PdbFile Open(string path)
    {
        var msf = MsfFile.Open(path);
        try
        {
            return new PdbFile(msf);
        }
        catch
        {
            msf.Dispose();
            throw;
        }
    }

    /// <summary>Reads a PDB held in memory.</summary>
    /// <exception cref="PdbFormatException">As for <see cref="Open"/>.</exception>
    public static PdbFile FromMemory(ReadOnlyMemory<byte> bytes) => new(MsfFile.FromMemory(bytes));

    /// <summary>True when this PDB is the one an RSDS record with this GUID and age names.</summary>
    public bool Matches(Guid guid, uint age) => guid == Guid && age == Age;

    /// <summary>The RVA of a section:offset address (1-based section), through OMAP when the PDB has it; null when the section does not exist.</summary>
    public uint? ToRva(ushort section, uint offset)
    {
        if (section == 0 || section > _sourceSections.Length) return null;
        uint address = _sourceSections[section - 1].VirtualAddress + offset;
        if (_omapFromSource is { } omap)
            return PdbFrameTables.MapOmap(omap.From, omap.To, address);
        return address;
    }

    // ------------------------------------------------------------------ functions

    /// <summary>
    /// The function containing <paramref name="rva"/>: a module procedure (S_GPROC32/S_LPROC32...) whose
    /// [Rva, Rva+Size) holds it; otherwise the nearest public symbol at or below it (flagged
    /// <see cref="PdbFunction.IsPublic"/>, size up to the next public or the section end) — unless a module
    /// procedure starts at that public and ends before <paramref name="rva"/> (padding between functions), which
    /// gives null.
    /// </summary>
    public PdbFunction? FindFunction(uint rva)
    {
        var found = FindPrivateFunction(rva);
        if (found is not null) return found;

        var publics = GetPublicsArray();
        int index = LastAtOrBelow(publics, rva, static p => p.Rva);
        if (index < 0) return null;
        var pub = publics[index];

        var known = FindFunctionStartingAt(pub.Rva);
        if (known is not null) return known.Contains(rva) ? known : null;

        ulong end = SectionEnd(pub.Rva) ?? ulong.MaxValue;
        for (int j = index + 1; j < publics.Length; j++)
        {
            if (publics[j].Rva <= pub.Rva) continue;
            end = Math.Min(end, publics[j].Rva);
            break;
        }
        if (end == ulong.MaxValue) end = (ulong)pub.Rva + 1;
        if (rva >= end) return null;
        return new PdbFunction(pub.Name, pub.Rva, (uint)Math.Min(end - pub.Rva, uint.MaxValue))
        {
            IsPublic = true,
            Section = pub.Section,
            Offset = pub.Offset,
        };
    }

    /// <summary>Every module procedure, sorted by RVA (reads every module stream).</summary>
    public IReadOnlyList<PdbFunction> Functions => GetAllFunctions();

    /// <summary>The procedures of one module, sorted by RVA.</summary>
    public IReadOnlyList<PdbFunction> GetModuleFunctions(int moduleIndex) =>
        (uint)moduleIndex < (uint)_modules.Length ? GetModule(moduleIndex).Functions : [];

    /// <summary>The source files a module lists in the DBI file info substream.</summary>
    public IReadOnlyList<string> GetModuleSourceFiles(int moduleIndex) => Dbi?.GetSourceFiles(moduleIndex) ?? [];

    private PdbFunction? FindPrivateFunction(uint rva)
    {
        int module = ModuleForRva(rva);
        if (module >= 0) return FindIn(GetModule(module).Functions, rva);
        if (GetContributions().Length == 0) return FindIn(GetAllFunctions(), rva);
        return null;
    }

    private PdbFunction? FindFunctionStartingAt(uint rva)
    {
        int module = ModuleForRva(rva);
        PdbFunction[] list = module >= 0 ? GetModule(module).Functions
            : GetContributions().Length == 0 ? GetAllFunctions() : [];
        int i = LastAtOrBelow(list, rva, static f => f.Rva);
        if (i < 0 || list[i].Rva != rva) return null;
        while (i > 0 && list[i - 1].Rva == rva) i--; // the largest of those starting here
        return list[i];
    }

    private static PdbFunction? FindIn(PdbFunction[] sorted, uint rva)
    {
        int i = LastAtOrBelow(sorted, rva, static f => f.Rva);
        for (int n = 0; i >= 0 && n < MaxScanBack; i--, n++)
            if (sorted[i].Contains(rva)) return sorted[i];
        return null;
    }

    private PdbFunction[] GetAllFunctions()
    {
        lock (_lock)
        {
            if (_allFunctions is not null) return _allFunctions;
            var all = new List<PdbFunction>();
            for (int m = 0; m < _modules.Length; m++)
                all.AddRange(GetModule(m).Functions);
            var array = all.ToArray();
            Array.Sort(array, static (a, b) => a.Rva != b.Rva ? a.Rva.CompareTo(b.Rva) : b.Size.CompareTo(a.Size));
            return _allFunctions = array;
        }
    }

    private ulong? SectionEnd(uint rva)
    {
        foreach (var s in _sections)
            if (s.ContainsRva(rva)) return (ulong)s.VirtualAddress + s.MappedSize;
        return null;
    }

    // ------------------------------------------------------------------ lines

    /// <summary>The source line whose code holds <paramref name="rva"/> (C13 DEBUG_S_LINES); null when no line table covers it.</summary>
    public PdbLine? FindLine(uint rva)
    {
        int module = ModuleForRva(rva);
        if (module >= 0) return FindLineIn(module, rva);
        if (GetContributions().Length > 0) return null;
        for (int m = 0; m < _modules.Length; m++)
            if (FindLineIn(m, rva) is { } line) return line;
        return null;
    }

    private PdbLine? FindLineIn(int module, uint rva)
    {
        var data = GetModule(module);
        var ranges = data.LineRanges;
        int r = LastAtOrBelow(ranges, rva, static x => x.Rva);
        for (int n = 0; r >= 0 && n < MaxScanBack; r--, n++)
        {
            var range = ranges[r];
            if (!range.Contains(rva)) continue;
            var entries = new ReadOnlySpan<LineEntry>(data.Lines, range.First, range.Count);
            int e = LastAtOrBelow(entries, rva);
            while (e >= 0 && entries[e].Line is CodeView.HiddenLine1 or CodeView.HiddenLine2 or 0) e--;
            if (e < 0) continue;
            var entry = entries[e];
            ulong end = (ulong)range.Rva + range.Size;
            for (int k = e + 1; k < entries.Length; k++)
                if (entries[k].Rva > entry.Rva) { end = Math.Min(end, entries[k].Rva); break; }
            string file = data.FileNames.TryGetValue(entry.FileChecksumOffset, out uint nameIndex)
                ? GetNames().Get(nameIndex) ?? ""
                : "";
            return new PdbLine(file, entry.Line, entry.Rva, (uint)Math.Max(0, (long)end - entry.Rva), module);
        }
        return null;
    }

    private static int LastAtOrBelow(ReadOnlySpan<LineEntry> entries, uint rva)
    {
        int lo = 0, hi = entries.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (entries[mid].Rva <= rva) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found;
    }

    // ------------------------------------------------------------------ publics

    /// <summary>The S_PUB32 public symbols that map to an RVA, sorted by RVA.</summary>
    public IReadOnlyList<PdbPublic> Publics => GetPublicsArray();

    /// <summary>The nearest public symbol at or below <paramref name="rva"/> (no size check).</summary>
    public PdbPublic? FindPublic(uint rva)
    {
        var publics = GetPublicsArray();
        int i = LastAtOrBelow(publics, rva, static p => p.Rva);
        return i >= 0 ? publics[i] : null;
    }

    private PdbPublic[] GetPublicsArray()
    {
        lock (_lock)
        {
            if (_publics is not null) return _publics;
            _publics = Guard("Public symbols", ReadPublics, []);
            return _publics;
        }
    }

    private PdbPublic[] ReadPublics()
    {
        if (Dbi is null) return [];
        int records = Dbi.SymbolRecordStream;
        if (!_msf.HasStream(records))
        {
            _problems.Add("The PDB has no symbol record stream; there are no public symbols.");
            return [];
        }
        List<int> offsets = _msf.HasStream(Dbi.PublicSymbolStream)
            ? PdbPublicsReader.ReadOffsets(_msf.ReadStream(Dbi.PublicSymbolStream), _problems)
            : PdbPublicsReader.ScanRecordStream(_msf.ReadStream(records));

        var result = new List<PdbPublic>(offsets.Count);
        var seen = new HashSet<int>();
        Span<byte> header = stackalloc byte[4];
        var buffer = new byte[MaxPublicRecordBytes];
        foreach (int offset in offsets)
        {
            if (offset < 0 || !seen.Add(offset)) continue;
            if (_msf.ReadStream(records, offset, header) != 4 || U16(header, 2) != CodeView.S_PUB32) continue;
            // Names are read up to MaxPublicRecordBytes (MSVC caps decorated names at 4 KB); a longer name is cut.
            int length = Math.Min(2 + U16(header, 0), MaxPublicRecordBytes);
            int got = _msf.ReadStream(records, offset, buffer.AsSpan(0, length));
            if (PdbPublicsReader.ParsePublic(buffer.AsSpan(0, got)) is not { } pub) continue;
            if (ToRva(pub.Section, pub.Offset) is not { } rva) continue;
            result.Add(new PdbPublic(pub.Name, rva, pub.Section, pub.Offset, pub.Flags));
        }
        var array = result.ToArray();
        Array.Sort(array, static (a, b) => a.Rva != b.Rva ? a.Rva.CompareTo(b.Rva) : string.CompareOrdinal(a.Name, b.Name));
        return array;
    }

    // ------------------------------------------------------------------ x86 frame data

    /// <summary>The FPO_DATA records (DBI debug stream "FPO"), sorted by RVA.</summary>
    public IReadOnlyList<PdbFpoData> FpoRecords => GetFpo();

    /// <summary>The FRAMEDATA records (DBI debug stream "NewFPO"), sorted by RVA.</summary>
    public IReadOnlyList<PdbFrameData> FrameDataRecords => GetFrameData();

    /// <summary>The FPO_DATA record whose function range holds <paramref name="rva"/>.</summary>
    public PdbFpoData? FpoAt(uint rva)
    {
        var records = GetFpo();
        if (records.Length == 0 || ToInternal(rva) is not { } key) return null;
        int i = LastAtOrBelow(records, key, static r => r.Rva);
        for (int n = 0; i >= 0 && n < MaxScanBack; i--, n++)
            if (records[i].Contains(key)) return records[i];
        return null;
    }

    /// <summary>
    /// The FRAMEDATA record for <paramref name="rva"/>: of the records whose [Rva, Rva+CodeSize) holds it, the one
    /// that starts last (the innermost block).
    /// </summary>
    public PdbFrameData? FrameDataAt(uint rva)
    {
        var records = GetFrameData();
        if (records.Length == 0 || ToInternal(rva) is not { } key) return null;
        int i = LastAtOrBelow(records, key, static r => r.Rva);
        for (int n = 0; i >= 0 && n < 256; i--, n++)
            if (records[i].Contains(key)) return records[i];
        return null;
    }

    /// <summary>FPO and frame data use the PDB's own addresses: map an image RVA back through OMAP when present.</summary>
    private uint? ToInternal(uint rva) =>
        _omapToSource is { } omap ? PdbFrameTables.MapOmap(omap.From, omap.To, rva) : rva;

    private PdbFpoData[] GetFpo()
    {
        lock (_lock)
        {
            if (_fpo is not null) return _fpo;
            int stream = Dbi?.DebugStreams.Fpo ?? -1;
            _fpo = _msf.HasStream(stream) ? Guard("FPO data", () => PdbFrameTables.ReadFpo(_msf.ReadStream(stream)), []) : [];
            return _fpo;
        }
    }

    private PdbFrameData[] GetFrameData()
    {
        lock (_lock)
        {
            if (_frameData is not null) return _frameData;
            int stream = Dbi?.DebugStreams.FrameData ?? -1;
            _frameData = _msf.HasStream(stream)
                ? Guard("Frame data", () => PdbFrameTables.ReadFrameData(_msf.ReadStream(stream), GetNames().Get), [])
                : [];
            return _frameData;
        }
    }

    // ------------------------------------------------------------------ names, modules, contributions

    /// <summary>A string of the "/names" table by its name index (byte offset); null when there is none.</summary>
    public string? GetName(uint nameIndex) => GetNames().Get(nameIndex);

    private PdbNames GetNames()
    {
        lock (_lock)
        {
            if (_names is not null) return _names;
            int stream = Info.GetNamedStream("/names");
            _names = _msf.HasStream(stream)
                ? Guard("The /names stream", () => PdbNames.Parse(_msf.ReadStream(stream), _problems), PdbNames.Empty)
                : PdbNames.Empty;
            return _names;
        }
    }

    private PdbModuleData GetModule(int index)
    {
        lock (_lock)
        {
            if (_modules[index] is { } cached) return cached;
            var module = Dbi!.Modules[index];
            var data = _msf.HasStream(module.SymbolStream)
                ? Guard($"Module {index} ({module.ModuleName})",
                    () => PdbModuleData.Parse(module, _msf.ReadStream(module.SymbolStream), ToRva, _problems), PdbModuleData.Empty)
                : PdbModuleData.Empty;
            return _modules[index] = data;
        }
    }

    /// <summary>The DBI module whose section contribution holds <paramref name="rva"/>, or -1.</summary>
    public int ModuleForRva(uint rva)
    {
        var contributions = GetContributions();
        int i = LastAtOrBelow(contributions, rva, static c => c.Rva);
        for (int n = 0; i >= 0 && n < MaxScanBack; i--, n++)
        {
            var c = contributions[i];
            if (rva - c.Rva < c.Size) return c.Module;
        }
        return -1;
    }

    private Contribution[] GetContributions()
    {
        lock (_lock)
        {
            if (_contributions is not null) return _contributions;
            var list = new List<Contribution>();
            if (Dbi is not null)
                foreach (var c in Dbi.SectionContributions)
                {
                    if (c.Size == 0 || (uint)c.ModuleIndex >= (uint)_modules.Length) continue;
                    if (ToRva(c.Section, c.Offset) is { } rva) list.Add(new Contribution(rva, c.Size, c.ModuleIndex));
                }
            var array = list.ToArray();
            Array.Sort(array, static (a, b) => a.Rva != b.Rva ? a.Rva.CompareTo(b.Rva) : b.Size.CompareTo(a.Size));
            return _contributions = array;
        }
    }

    private PeSection[] ReadSections(int stream)
    {
        if (!_msf.HasStream(stream)) return [];
        var data = _msf.ReadStream(stream);
        int count = Math.Min(data.Length / 40, PeImage.MaxSections);
        var result = new PeSection[count];
        for (int i = 0; i < count; i++)
        {
            var s = data.AsSpan(40 * i, 40);
            int nul = s[..8].IndexOf((byte)0);
            string name = System.Text.Encoding.UTF8.GetString(s[..(nul < 0 ? 8 : nul)]);
            result[i] = new PeSection(name, U32(s, 12), U32(s, 8), U32(s, 16), U32(s, 20), U32(s, 36));
        }
        return result;
    }

    private T Guard<T>(string what, Func<T> read, T fallback)
    {
        try
        {
            return read();
        }
        catch (PdbFormatException e)
        {
            lock (_lock) _problems.Add($"{what}: {e.Message}");
            return fallback;
        }
    }

    private static int LastAtOrBelow<T>(T[] sorted, uint key, Func<T, uint> keyOf)
    {
        int lo = 0, hi = sorted.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (keyOf(sorted[mid]) <= key) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found;
    }

    public void Dispose() => _msf.Dispose();
}
