using System.Buffers.Binary;
using System.Text;

namespace DumpShell.Tests.Engine;

/// <summary>
/// Test-only writer of MSF 7.00 containers and of a small x86 PDB that has every part the reader handles
/// (info stream with named streams, DBI with a module, section contributions, file info, optional debug
/// header, module symbols with S_FRAMEPROC, C13 lines and file checksums, /names, publics, section headers,
/// FPO_DATA, FRAMEDATA, OMAP). Written from the format documentation with its own code so that the tests
/// check the engine's reader rather than share it.
/// </summary>
public static class PdbBuilder
{
    public static readonly Guid SyntheticGuid = new("11223344-5566-7788-99aa-bbccddeeff00");
    public const uint SyntheticInfoAge = 5;
    public const uint SyntheticDbiAge = 7;

    public enum PublicsLayout { AddressMap, HashRecordsOnly, NoPublicStream }

    /// <summary>Stream indices of the synthetic PDB.</summary>
    public static class Streams
    {
        public const int Info = 1, Tpi = 2, Dbi = 3, Ipi = 4, LinkInfo = 5, Names = 6, Publics = 7, SymbolRecords = 8,
            SectionHeaders = 9, Module = 10, Fpo = 11, FrameData = 12, OriginalSectionHeaders = 13, OmapToSource = 14,
            OmapFromSource = 15, Padding = 16;
    }

    // ------------------------------------------------------------------ MSF container

    /// <summary>
    /// An MSF 7.00 file holding <paramref name="streams"/> (null = nil stream). Block 0 is the superblock,
    /// blocks 1 and 2 of every interval of <paramref name="blockSize"/> blocks are free block map blocks,
    /// streams follow in order, then the directory, then the block-map blocks listing the directory's blocks.
    /// </summary>
    /// <remarks>With <paramref name="directoryFirst"/> the directory and its block map come right after the
    /// superblock instead (so that cutting the file's end loses stream data but keeps the directory).</remarks>
    public static byte[] WriteMsf(IReadOnlyList<byte[]?> streams, int blockSize = 4096, bool directoryFirst = false)
    {
        var blocks = new List<byte[]> { new byte[blockSize] };

        int NewBlock()
        {
            while (blocks.Count % blockSize is 1 or 2)
                blocks.Add(Enumerable.Repeat((byte)0xFF, blockSize).ToArray());
            blocks.Add(new byte[blockSize]);
            return blocks.Count - 1;
        }

        List<int> Store(ReadOnlySpan<byte> data)
        {
            var numbers = new List<int>();
            for (int at = 0; at < data.Length; at += blockSize)
            {
                int b = NewBlock();
                data.Slice(at, Math.Min(blockSize, data.Length - at)).CopyTo(blocks[b]);
                numbers.Add(b);
            }
            return numbers;
        }

        List<int>? reservedDirectory = null, reservedMap = null;
        if (directoryFirst)
        {
            long totalBlocks = streams.Sum(x => x is null ? 0 : (x.Length + blockSize - 1) / blockSize);
            int directorySize = (int)(4 + 4 * streams.Count + 4 * totalBlocks);
            int directoryBlockCount = (directorySize + blockSize - 1) / blockSize;
            reservedDirectory = Enumerable.Range(0, directoryBlockCount).Select(_ => NewBlock()).ToList();
            reservedMap = Enumerable.Range(0, (4 * directoryBlockCount + blockSize - 1) / blockSize).Select(_ => NewBlock()).ToList();
        }
        var streamBlocks = streams.Select(s => s is null ? new List<int>() : Store(s)).ToList();
        var directory = new ByteWriter();
        directory.U32((uint)streams.Count);
        foreach (var s in streams) directory.U32(s is null ? 0xFFFF_FFFF : (uint)s.Length);
        foreach (var list in streamBlocks)
            foreach (int b in list) directory.U32((uint)b);
        byte[] directoryBytes = directory.ToArray();
        var directoryBlocks = reservedDirectory is null ? Store(directoryBytes) : Fill(reservedDirectory, directoryBytes);
        var mapBytes = new ByteWriter();
        foreach (int b in directoryBlocks) mapBytes.U32((uint)b);
        var mapBlocks = reservedMap is null ? Store(mapBytes.ToArray()) : Fill(reservedMap, mapBytes.ToArray());

        List<int> Fill(List<int> reserved, byte[] data)
        {
            for (int i = 0; i < reserved.Count; i++)
                data.AsSpan(i * blockSize, Math.Min(blockSize, data.Length - i * blockSize)).CopyTo(blocks[reserved[i]]);
            return reserved;
        }

        var super = new ByteWriter();
        super.Bytes("Microsoft C/C++ MSF 7.00\r\n"u8);
        super.Bytes([0x1A, 0x44, 0x53, 0, 0, 0]);
        super.U32((uint)blockSize);
        super.U32(1);
        super.U32((uint)blocks.Count);
        super.U32((uint)directoryBytes.Length);
        super.U32(0);
        foreach (int b in mapBlocks) super.U32((uint)b);
        super.ToArray().CopyTo(blocks[0], 0);

        var file = new byte[blocks.Count * blockSize];
        for (int i = 0; i < blocks.Count; i++) blocks[i].CopyTo(file, i * blockSize);
        return file;
    }

    /// <summary>Reads back the directory of an MSF file (test-side): block size, stream sizes and block lists.</summary>
    public static (int BlockSize, uint[] Sizes, List<uint[]> Blocks, long DirectoryFileOffset) ReadDirectory(byte[] file)
    {
        int blockSize = (int)U32(file, 32);
        int directoryBytes = (int)U32(file, 44);
        uint mapBlock = U32(file, 52);
        var directory = new byte[directoryBytes];
        int directoryBlocks = (directoryBytes + blockSize - 1) / blockSize;
        long firstDirectoryBlockOffset = (long)U32(file, (int)(mapBlock * blockSize)) * blockSize;
        for (int d = 0; d < directoryBlocks; d++)
        {
            uint block = U32(file, (int)(mapBlock * blockSize + 4 * d));
            int n = Math.Min(blockSize, directoryBytes - d * blockSize);
            Array.Copy(file, block * blockSize, directory, d * blockSize, n);
        }
        int count = (int)U32(directory, 0);
        var sizes = new uint[count];
        var lists = new List<uint[]>();
        int pos = 4 + 4 * count;
        for (int i = 0; i < count; i++)
        {
            sizes[i] = U32(directory, 4 + 4 * i);
            int n = sizes[i] == 0xFFFF_FFFF ? 0 : (int)((sizes[i] + blockSize - 1) / blockSize);
            var list = new uint[n];
            for (int b = 0; b < n; b++, pos += 4) list[b] = U32(directory, pos);
            lists.Add(list);
        }
        return (blockSize, sizes, lists, firstDirectoryBlockOffset);
    }

    /// <summary>The file offset of a byte of a stream (test-side directory walk).</summary>
    public static long StreamByteOffset(byte[] file, int stream, int offsetInStream)
    {
        var (blockSize, _, blocks, _) = ReadDirectory(file);
        return (long)blocks[stream][offsetInStream / blockSize] * blockSize + offsetInStream % blockSize;
    }

    // ------------------------------------------------------------------ synthetic x86 PDB

    /// <summary>Names used in the synthetic PDB's /names stream.</summary>
    public const string SourceFile = @"c:\src\synth.c";
    public const string OuterProgram = "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =";
    public const string InnerProgram = "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + =";

    /// <summary>
    /// A small x86 PDB. Without OMAP: .text at RVA 0x1000 (0x1000 bytes), .data at 0x2000 (0x100 bytes);
    /// "alpha" (S_GPROC32, 1:0x10, 0x20 bytes, with S_FRAMEPROC) and "beta" (S_LPROC32, 1:0x40, 0x10 bytes);
    /// publics alpha (1:0x10), gamma (1:0x80, code with no private symbol) and g_data (2:0x8); lines
    /// alpha 100 @+0, 101 @+8, hidden @+0x18; beta 200 @+0, 201 @+4 (with columns); FPO for alpha and beta;
    /// FRAMEDATA for alpha (function start) and an inner block at 0x1018. With OMAP the image moved .text to
    /// 0x5000 and .data to 0x6000 and the tables map between them.
    /// </summary>
    /// <param name="frameData">FRAMEDATA records to write instead of the two above (their programs go into /names).</param>
    /// <param name="fpoData">FPO_DATA records to write instead of the two above.</param>
    public static byte[] BuildSynthetic(int blockSize = 4096, bool omap = false,
        PublicsLayout publics = PublicsLayout.AddressMap, int paddingBytes = 0, bool directoryFirst = false,
        IReadOnlyList<FrameDataSpec>? frameData = null, IReadOnlyList<FpoSpec>? fpoData = null)
    {
        // /names: the empty string first, then the source file and the two frame programs.
        var names = new ByteWriter();
        names.U8(0);
        uint sourceName = names.CString(SourceFile);
        uint outerName = names.CString(OuterProgram);
        uint innerName = names.CString(InnerProgram);
        var programNames = new Dictionary<string, uint>();
        foreach (var f in frameData ?? [])
            if (f.Program is { } program && !programNames.ContainsKey(program)) programNames[program] = names.CString(program);
        byte[] namesBuffer = names.ToArray();
        var namesStream = new ByteWriter();
        namesStream.U32(0xEFFE_EFFE).U32(1).U32((uint)namesBuffer.Length).Bytes(namesBuffer);
        namesStream.U32(1).U32(sourceName).U32(3); // 1-slot hash table, 3 names

        var info = new ByteWriter();
        info.U32(20000404).U32(0x1234_5678).U32(SyntheticInfoAge).Bytes(SyntheticGuid.ToByteArray());
        var keys = new ByteWriter();
        uint linkInfoKey = keys.CString("/LinkInfo");
        uint namesKey = keys.CString("/names");
        byte[] keyBytes = keys.ToArray();
        info.U32((uint)keyBytes.Length).Bytes(keyBytes);
        info.U32(2).U32(4);            // 2 entries, capacity 4
        info.U32(1).U32(0b0101);       // present bit vector
        info.U32(0);                   // deleted bit vector
        info.U32(linkInfoKey).U32(Streams.LinkInfo);
        info.U32(namesKey).U32(Streams.Names);
        info.U32(0);                   // niMac
        info.U32(20140508);            // feature: VC140

        // Module symbols.
        var sym = new ByteWriter();
        sym.U32(4);
        int alphaAt = sym.Length;
        int alphaEndPatch = WriteProc(sym, 0x1110, 0x20, 0x10, 1, "alpha");
        WriteRecord(sym, 0x1012, r => r.U32(0x28).U32(0).U32(0).U32(8).U32(0).U16(0).U32((2u << 14) | (2u << 16) | 0x40));
        sym.PatchU32(alphaEndPatch, (uint)sym.Length);
        WriteRecord(sym, 0x0006, _ => { });
        int betaEndPatch = WriteProc(sym, 0x110F, 0x10, 0x40, 1, "beta");
        sym.PatchU32(betaEndPatch, (uint)sym.Length);
        WriteRecord(sym, 0x0006, _ => { });
        uint symBytes = (uint)sym.Length;
        _ = alphaAt;

        var c13 = new ByteWriter();
        var checksums = new ByteWriter();
        checksums.U32(sourceName).U8(0).U8(0).Align4();
        Subsection(c13, 0xF4, checksums.ToArray());
        var alphaLines = new ByteWriter();
        alphaLines.U32(0x10).U16(1).U16(0).U32(0x20);
        alphaLines.U32(0).U32(3).U32(12 + 3 * 8);
        alphaLines.U32(0x0).U32(100 | 0x8000_0000).U32(0x8).U32(101 | 0x8000_0000).U32(0x18).U32(0xFEEFEE);
        Subsection(c13, 0xF2, alphaLines.ToArray());
        var betaLines = new ByteWriter();
        betaLines.U32(0x40).U16(1).U16(1).U32(0x10);
        betaLines.U32(0).U32(2).U32(12 + 2 * 8 + 2 * 4);
        betaLines.U32(0x0).U32(200).U32(0x4).U32(201);
        betaLines.U16(1).U16(5).U16(1).U16(9);
        Subsection(c13, 0xF2, betaLines.ToArray());
        Subsection(c13, 0x8000_00F2, [1, 2, 3, 4]); // ignored subsection
        byte[] c13Bytes = c13.ToArray();
        sym.Bytes(c13Bytes).U32(0); // global refs size 0
        byte[] moduleStream = sym.ToArray();

        // Public symbol records (symbol record stream), in the order written.
        var records = new ByteWriter();
        var pubOffsets = new List<(int Offset, ushort Section, uint Offset2)>();
        void Pub(string name, uint flags, ushort section, uint offset)
        {
            pubOffsets.Add((records.Length, section, offset));
            WriteRecord(records, 0x110E, r => r.U32(flags).U32(offset).U16(section).Str(name));
        }
        Pub("g_data", 0, 2, 0x8);
        Pub("gamma", 2, 1, 0x80);
        Pub("alpha", 2, 1, 0x10);
        byte[] recordBytes = records.ToArray();

        byte[]? psi = null;
        if (publics != PublicsLayout.NoPublicStream)
        {
            var hash = new ByteWriter();
            var hashRecords = publics == PublicsLayout.HashRecordsOnly ? pubOffsets.Select(p => p.Offset).ToList() : new List<int>();
            hash.U32(0xFFFF_FFFF).U32(0xEFFE0000 + 19990810).U32((uint)(8 * hashRecords.Count)).U32(0);
            foreach (int o in hashRecords) hash.U32((uint)o + 1).U32(1);
            byte[] hashBytes = hash.ToArray();
            var addressMap = publics == PublicsLayout.AddressMap
                ? pubOffsets.OrderBy(p => p.Section).ThenBy(p => p.Offset2).Select(p => p.Offset).ToList()
                : new List<int>();
            var p = new ByteWriter();
            p.U32((uint)hashBytes.Length).U32((uint)(4 * addressMap.Count)).U32(0).U32(0).U16(0).U16(0).U32(0).U32(2);
            p.Bytes(hashBytes);
            foreach (int o in addressMap) p.U32((uint)o);
            psi = p.ToArray();
        }

        uint textVa = omap ? 0x5000u : 0x1000u, dataVa = omap ? 0x6000u : 0x2000u;
        byte[] sections = SectionHeaders((".text", textVa, 0x1000, 0x6000_0020), (".data", dataVa, 0x100, 0xC000_0040));
        byte[] originalSections = SectionHeaders((".text", 0x1000, 0x1000, 0x6000_0020), (".data", 0x2000, 0x100, 0xC000_0040));

        var fpo = new ByteWriter();
        if (fpoData is null)
        {
            // beta first: the reader sorts. bits = prolog | regs << 8 | seh << 11 | bp << 12 | frame << 14
            fpo.U32(0x1040).U32(0x10).U32(0).U16(2).U16((ushort)(1 | (0 << 8) | (3 << 14)));
            fpo.U32(0x1010).U32(0x20).U32(2).U16(1).U16((ushort)(3 | (2 << 8) | (1 << 12)));
        }
        else
        {
            foreach (var f in fpoData)
                fpo.U32(f.Rva).U32(f.Size).U32(f.LocalsDwords).U16(f.ParamsDwords)
                    .U16((ushort)(f.PrologSize | (f.SavedRegisters & 7) << 8 | (f.HasSeh ? 1 : 0) << 11 | (f.UsesBasePointer ? 1 : 0) << 12 | (f.FrameType & 3) << 14));
        }

        var frames = new ByteWriter();
        frames.U32(0); // relocation pointer
        if (frameData is null)
        {
            frames.U32(0x1010).U32(0x20).U32(8).U32(4).U32(0).U32(outerName).U16(3).U16(4).U32(4);
            frames.U32(0x1018).U32(0x8).U32(8).U32(4).U32(16).U32(innerName).U16(0).U16(4).U32(1);
        }
        else
        {
            foreach (var f in frameData)
                frames.U32(f.Rva).U32(f.CodeSize).U32(f.LocalsSize).U32(f.ParamsSize).U32(f.MaxStackSize)
                    .U32(f.Program is { } program ? programNames[program] : 0).U16(f.PrologSize).U16(f.SavedRegistersSize).U32(f.Flags);
        }

        var omapTo = new ByteWriter();   // image → PDB
        omapTo.U32(0x5000).U32(0x1000).U32(0x6000).U32(0x2000).U32(0x6100).U32(0);
        var omapFrom = new ByteWriter(); // PDB → image
        omapFrom.U32(0x2000).U32(0x6000).U32(0x1000).U32(0x5000).U32(0x2100).U32(0); // unsorted on purpose

        // DBI.
        var modInfo = new ByteWriter();
        modInfo.U32(0);
        WriteContribution(modInfo, 1, 0, 0x100, 0x6000_0020, 0);
        modInfo.U16(0).U16(Streams.Module).U32(symBytes).U32(0).U32((uint)c13Bytes.Length).U16(1).U16(0).U32(0).U32(0).U32(0);
        modInfo.Str(@"c:\obj\synth.obj").Str(@"c:\obj\synth.obj").Align4();
        var contributions = new ByteWriter();
        contributions.U32(0xEFFE0000 + 19970605);
        WriteContribution(contributions, 1, 0, 0x100, 0x6000_0020, 0);
        WriteContribution(contributions, 2, 0, 0x10, 0xC000_0040, 0);
        var sectionMap = new ByteWriter();
        sectionMap.U16(2).U16(2);
        sectionMap.U16(0x10D).U16(0).U16(0).U16(1).U16(0xFFFF).U16(0xFFFF).U32(0).U32(0x1000);
        sectionMap.U16(0x10B).U16(0).U16(0).U16(2).U16(0xFFFF).U16(0xFFFF).U32(0).U32(0x100);
        var fileInfo = new ByteWriter();
        fileInfo.U16(1).U16(1).U16(0).U16(1).U32(0).Str(SourceFile).Align4();
        var debugHeader = new ByteWriter();
        int[] slots = [Streams.Fpo, -1, -1, omap ? Streams.OmapToSource : -1, omap ? Streams.OmapFromSource : -1,
            Streams.SectionHeaders, -1, -1, -1, Streams.FrameData, omap ? Streams.OriginalSectionHeaders : -1];
        foreach (int s in slots) debugHeader.U16((ushort)s);

        byte[] m = modInfo.ToArray(), sc = contributions.ToArray(), sm = sectionMap.ToArray(), fi = fileInfo.ToArray(),
            dh = debugHeader.ToArray();
        var dbi = new ByteWriter();
        dbi.U32(0xFFFF_FFFF).U32(19990903).U32(SyntheticDbiAge);
        dbi.U16(0xFFFF).U16(0x8E00).U16(publics == PublicsLayout.NoPublicStream ? (ushort)0xFFFF : (ushort)Streams.Publics)
            .U16(0).U16(Streams.SymbolRecords).U16(0);
        dbi.U32((uint)m.Length).U32((uint)sc.Length).U32((uint)sm.Length).U32((uint)fi.Length).U32(0).U32(0)
            .U32((uint)dh.Length).U32(0).U16(0).U16(0x14C).U32(0);
        dbi.Bytes(m).Bytes(sc).Bytes(sm).Bytes(fi).Bytes(dh);

        var streams = new List<byte[]?>
        {
            Array.Empty<byte>(),       // 0 old directory
            info.ToArray(),            // 1
            Array.Empty<byte>(),       // 2 TPI
            dbi.ToArray(),             // 3
            null,                      // 4 IPI (nil)
            Array.Empty<byte>(),       // 5 /LinkInfo
            namesStream.ToArray(),     // 6
            psi,                       // 7
            recordBytes,               // 8
            sections,                  // 9
            moduleStream,              // 10
            fpo.ToArray(),             // 11
            frames.ToArray(),          // 12
            omap ? originalSections : null, // 13
            omap ? omapTo.ToArray() : null, // 14
            omap ? omapFrom.ToArray() : null, // 15
            paddingBytes > 0 ? new byte[paddingBytes] : null, // 16
        };
        return WriteMsf(streams, blockSize, directoryFirst);
    }

    /// <summary>A FRAMEDATA record for <see cref="BuildSynthetic"/> (flags: 1 SEH, 2 EH, 4 function start).</summary>
    public sealed record FrameDataSpec(uint Rva, uint CodeSize, uint LocalsSize, uint ParamsSize, string? Program,
        ushort SavedRegistersSize = 0, ushort PrologSize = 0, uint MaxStackSize = 0, uint Flags = 4);

    /// <summary>An FPO_DATA record for <see cref="BuildSynthetic"/> (frame type: 0 FPO, 1 trap, 2 TSS, 3 non-FPO).</summary>
    public sealed record FpoSpec(uint Rva, uint Size, uint LocalsDwords, ushort ParamsDwords, byte SavedRegisters,
        byte PrologSize = 0, bool UsesBasePointer = false, bool HasSeh = false, int FrameType = 0);

    private static int WriteProc(ByteWriter w, ushort kind, uint length, uint offset, ushort section, string name)
    {
        int recordStart = w.Length;
        int endPatch = 0;
        WriteRecord(w, kind, r =>
        {
            r.U32(0);
            endPatch = recordStart + r.Length;
            r.U32(0).U32(0).U32(length).U32(0).U32(0).U32(0x1000).U32(offset).U16(section).U8(0).Str(name);
        });
        return endPatch;
    }

    /// <summary>A CodeView record: u16 length (of what follows), u16 kind, body, padded to 4 bytes.</summary>
    private static void WriteRecord(ByteWriter w, ushort kind, Action<ByteWriter> body)
    {
        int start = w.Length;
        w.U16(0).U16(kind);
        body(new ByteWriter.Sub(w, start));
        while ((w.Length - start) % 4 != 0) w.U8(0);
        w.PatchU16(start, (ushort)(w.Length - start - 2));
    }

    private static void Subsection(ByteWriter w, uint kind, byte[] body)
    {
        w.U32(kind).U32((uint)body.Length).Bytes(body).Align4();
    }

    private static void WriteContribution(ByteWriter w, ushort section, uint offset, uint size, uint characteristics, ushort module)
    {
        w.U16(section).U16(0).U32(offset).U32(size).U32(characteristics).U16(module).U16(0).U32(0).U32(0);
    }

    private static byte[] SectionHeaders(params (string Name, uint Va, uint Size, uint Characteristics)[] sections)
    {
        var w = new ByteWriter();
        foreach (var s in sections)
        {
            var name = new byte[8];
            Encoding.ASCII.GetBytes(s.Name).CopyTo(name, 0);
            w.Bytes(name).U32(s.Size).U32(s.Va).U32(s.Size).U32(0x400).U32(0).U32(0).U16(0).U16(0).U32(s.Characteristics);
        }
        return w.ToArray();
    }

    public static uint U32(byte[] data, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(offset));

    public static void PutU32(byte[] data, long offset, uint value) =>
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(checked((int)offset)), value);

    public static void PutU16(byte[] data, long offset, ushort value) =>
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(checked((int)offset)), value);

    /// <summary>A growable little-endian byte buffer.</summary>
    internal class ByteWriter
    {
        private readonly List<byte> _bytes;
        private readonly int _base;

        public ByteWriter() : this(new List<byte>(), 0) { }

        private ByteWriter(List<byte> bytes, int @base)
        {
            _bytes = bytes;
            _base = @base;
        }

        /// <summary>Bytes written, relative to this writer's start.</summary>
        public int Length => _bytes.Count - _base;

        public ByteWriter U8(byte v) { _bytes.Add(v); return this; }
        public ByteWriter U16(ushort v) { _bytes.Add((byte)v); _bytes.Add((byte)(v >> 8)); return this; }
        public ByteWriter U32(uint v) { for (int i = 0; i < 4; i++) _bytes.Add((byte)(v >> (8 * i))); return this; }
        public ByteWriter Bytes(ReadOnlySpan<byte> v) { foreach (byte b in v) _bytes.Add(b); return this; }
        public ByteWriter Align4() { while (Length % 4 != 0) _bytes.Add(0); return this; }
        public ByteWriter Str(string s) { CString(s); return this; }

        /// <summary>Writes a NUL-terminated UTF-8 string; returns its offset.</summary>
        public uint CString(string s)
        {
            uint at = (uint)Length;
            Bytes(Encoding.UTF8.GetBytes(s));
            U8(0);
            return at;
        }

        public void PatchU32(int offset, uint v) { for (int i = 0; i < 4; i++) _bytes[_base + offset + i] = (byte)(v >> (8 * i)); }
        public void PatchU16(int offset, ushort v) { _bytes[_base + offset] = (byte)v; _bytes[_base + offset + 1] = (byte)(v >> 8); }

        public byte[] ToArray() => _bytes.Skip(_base).ToArray();

        /// <summary>A view that appends to <paramref name="parent"/> with offsets relative to <paramref name="start"/>.</summary>
        public sealed class Sub(ByteWriter parent, int start) : ByteWriter(parent._bytes, parent._base + start);
    }
}
