using static DumpShell.Symbols.Pdb.PdbText;

namespace DumpShell.Symbols.Pdb;

/// <summary>
/// The "/names" string table: signature 0xEFFEEFFE, version, u32 buffer size, the buffer of NUL-terminated
/// UTF-8 strings (a name index is a byte offset into it), then a hash table that is not needed for reading.
/// </summary>
internal sealed class PdbNames
{
    public const uint Signature = 0xEFFE_EFFE;
    public static readonly PdbNames Empty = new([]);

    private readonly byte[] _buffer;
    private readonly Dictionary<uint, string> _cache = new();

    private PdbNames(byte[] buffer) => _buffer = buffer;

    public static PdbNames Parse(ReadOnlySpan<byte> data, List<string> problems)
    {
        if (data.Length < 12 || U32(data, 0) != Signature)
        {
            problems.Add("The /names stream has no valid header; source file names and frame programs are unavailable.");
            return Empty;
        }
        uint size = U32(data, 8);
        if (size > (uint)(data.Length - 12))
        {
            problems.Add($"The /names stream says its strings take {size} bytes but only {data.Length - 12} follow; the rest is cut off.");
            size = (uint)(data.Length - 12);
        }
        return new PdbNames(data.Slice(12, (int)size).ToArray());
    }

    /// <summary>The string at a name index; null when the index is outside the buffer.</summary>
    public string? Get(uint nameIndex)
    {
        if (nameIndex >= _buffer.Length) return null;
        lock (_cache)
        {
            if (!_cache.TryGetValue(nameIndex, out var text))
                _cache[nameIndex] = text = CString(_buffer, (int)nameIndex);
            return text;
        }
    }
}

/// <summary>
/// Public symbols: the PSI stream (DBI PublicSymbolStream) and the S_PUB32 records it points to in the symbol
/// record stream (DBI SymbolRecordStream).
/// </summary>
/// <remarks>
/// PSI layout (pdb-rs docs/pdb/globals.md, LLVM "The PDB Public Symbol Stream"): a 28-byte header
/// (SymHash size, AddrMap size, thunk count, thunk size, thunk section, thunk offset, section count), the
/// GSI hash table (header: 0xFFFFFFFF, 0xF12F091A, hash-record bytes, bucket bytes; hash records {symbol
/// offset + 1, ref count}; bucket bitmap and offsets), then the address map: u32 offsets of the S_PUB32
/// records in the symbol record stream, sorted by address. The address map is the list read; when it is
/// empty the hash records are used; when there is no PSI at all the symbol record stream is scanned.
/// S_PUB32: u32 flags, u32 offset, u16 segment, name.
/// </remarks>
internal static class PdbPublicsReader
{
    public const uint GsiHashSignature = 0xFFFF_FFFF;
    public const uint GsiHashVersion = 0xEFFE0000 + 19990810;

    /// <summary>
    /// The symbol record stream offsets of the publics the PSI lists: the address map, or the hash records when
    /// the address map is empty.
    /// </summary>
    public static List<int> ReadOffsets(ReadOnlySpan<byte> psi, List<string> problems)
    {
        var offsets = new List<int>();
        if (psi.Length < 28)
        {
            problems.Add($"The public symbol stream is {psi.Length} bytes, shorter than its 28-byte header.");
            return offsets;
        }
        uint hashSize = U32(psi, 0);
        uint addressMapSize = U32(psi, 4);
        if (hashSize > (uint)(psi.Length - 28))
        {
            problems.Add("The public symbol stream's hash table runs past the stream.");
            return offsets;
        }
        int mapStart = 28 + (int)hashSize;
        int mapBytes = (int)Math.Min(addressMapSize, (uint)(psi.Length - mapStart));
        if (mapBytes < addressMapSize)
            problems.Add("The public symbol stream's address map runs past the stream; the rest is ignored.");
        for (int p = mapStart; p + 4 <= mapStart + mapBytes; p += 4)
            offsets.Add((int)U32(psi, p));
        if (offsets.Count == 0)
            ReadHashRecords(psi.Slice(28, (int)hashSize), offsets);
        return offsets;
    }

    /// <summary>Offsets of every S_PUB32 in a symbol record stream (used when there is no PSI).</summary>
    public static List<int> ScanRecordStream(ReadOnlySpan<byte> records)
    {
        var offsets = new List<int>();
        ScanAll(records, offsets);
        return offsets;
    }

    /// <summary>An S_PUB32 record (length and kind included); null for anything else or a record too short.</summary>
    public static (string Name, ushort Section, uint Offset, PdbPublicFlags Flags)? ParsePublic(ReadOnlySpan<byte> record)
    {
        if (record.Length < 14 || U16(record, 2) != CodeView.S_PUB32) return null;
        return (CString(record, 14), U16(record, 12), U32(record, 8), (PdbPublicFlags)U32(record, 4));
    }

    private static void ReadHashRecords(ReadOnlySpan<byte> hash, List<int> offsets)
    {
        if (hash.Length < 16 || U32(hash, 0) != GsiHashSignature) return;
        uint recordBytes = U32(hash, 8);
        int end = (int)Math.Min(16L + recordBytes, hash.Length);
        for (int p = 16; p + 8 <= end; p += 8)
        {
            int biased = I32(hash, p);
            if (biased > 0) offsets.Add(biased - 1);
        }
    }

    private static void ScanAll(ReadOnlySpan<byte> records, List<int> offsets)
    {
        int pos = 0;
        while (CodeView.NextRecord(records, ref pos, out int start, out ushort kind, out _))
            if (kind == CodeView.S_PUB32) offsets.Add(start);
    }
}

/// <summary>FPO_DATA and FRAMEDATA tables, and OMAP address maps, from the DBI optional debug streams.</summary>
internal static class PdbFrameTables
{
    public const int FpoRecordSize = 16;
    public const int FrameDataRecordSize = 32;

    /// <summary>FPO_DATA array: ulOffStart, cbProcSize, cdwLocals, cdwParams (u16), then a u16 of bit fields
    /// cbProlog:8, cbRegs:3, fHasSEH:1, fUseBP:1, reserved:1, cbFrame:2. Sorted by start.</summary>
    public static PdbFpoData[] ReadFpo(ReadOnlySpan<byte> data)
    {
        int count = data.Length / FpoRecordSize;
        var result = new PdbFpoData[count];
        for (int i = 0; i < count; i++)
        {
            int p = i * FpoRecordSize;
            ushort bits = U16(data, p + 14);
            result[i] = new PdbFpoData(U32(data, p), U32(data, p + 4), U32(data, p + 8), U16(data, p + 12),
                PrologSize: (byte)(bits & 0xFF),
                SavedRegisters: (byte)((bits >> 8) & 7),
                HasSeh: (bits & 0x800) != 0,
                UsesBasePointer: (bits & 0x1000) != 0,
                FrameType: (PdbFpoFrameType)((bits >> 14) & 3));
        }
        Array.Sort(result, static (a, b) => a.Rva.CompareTo(b.Rva));
        return result;
    }

    /// <summary>
    /// FRAMEDATA stream: an optional u32 relocation pointer (present when the size is 4 more than a multiple
    /// of 32), then records: RvaStart, CodeSize, LocalSize, ParamsSize, MaxStackSize, FrameFunc (a /names
    /// index of the program string), PrologSize (u16), SavedRegsSize (u16), Flags. Sorted by start.
    /// </summary>
    public static PdbFrameData[] ReadFrameData(ReadOnlySpan<byte> data, Func<uint, string?> names)
    {
        int start = data.Length % FrameDataRecordSize == 4 ? 4 : 0;
        int count = (data.Length - start) / FrameDataRecordSize;
        var result = new PdbFrameData[count];
        for (int i = 0; i < count; i++)
        {
            int p = start + i * FrameDataRecordSize;
            uint frameFunc = U32(data, p + 20);
            result[i] = new PdbFrameData(U32(data, p), U32(data, p + 4), U32(data, p + 8), U32(data, p + 12),
                U32(data, p + 16), frameFunc == 0 ? null : names(frameFunc), U16(data, p + 24), U16(data, p + 26),
                (PdbFrameDataFlags)U32(data, p + 28));
        }
        Array.Sort(result, static (a, b) => a.Rva.CompareTo(b.Rva));
        return result;
    }

    /// <summary>OMAP: (u32 from, u32 to) pairs sorted by "from"; returned as parallel arrays.</summary>
    public static (uint[] From, uint[] To) ReadOmap(ReadOnlySpan<byte> data)
    {
        int count = data.Length / 8;
        var from = new uint[count];
        var to = new uint[count];
        for (int i = 0; i < count; i++)
        {
            from[i] = U32(data, 8 * i);
            to[i] = U32(data, 8 * i + 4);
        }
        Array.Sort(from, to);
        return (from, to);
    }

    /// <summary>
    /// Maps an address through an OMAP table: the entry with the largest "from" ≤ address gives
    /// to + (address − from); an entry whose "to" is 0 means the address has no counterpart (null).
    /// </summary>
    public static uint? MapOmap(uint[] from, uint[] to, uint address)
    {
        int i = Array.BinarySearch(from, address);
        if (i < 0) i = ~i - 1;
        if (i < 0 || to[i] == 0) return null;
        return to[i] + (address - from[i]);
    }
}
