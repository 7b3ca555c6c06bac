using System.Buffers.Binary;
using System.Text;

namespace DumpShell.Symbols.Pe;

/// <summary>Indexes of the optional header's data directories (IMAGE_DIRECTORY_ENTRY_*).</summary>
public enum PeDirectory
{
    Export = 0,
    Import = 1,
    Resource = 2,
    Exception = 3,
    Security = 4,
    BaseRelocation = 5,
    Debug = 6,
    Architecture = 7,
    GlobalPointer = 8,
    Tls = 9,
    LoadConfig = 10,
    BoundImport = 11,
    ImportAddressTable = 12,
    DelayImport = 13,
    ClrRuntime = 14,
}

/// <summary>IMAGE_DATA_DIRECTORY. Both fields are as the header says; nothing guarantees they point inside the image.</summary>
public readonly record struct PeDataDirectory(uint VirtualAddress, uint Size)
{
    public bool IsEmpty => VirtualAddress == 0 || Size == 0;
}

/// <summary>IMAGE_SECTION_HEADER.</summary>
/// <param name="Name">
/// The 8-byte name up to its first NUL. Long names of mingw/lld images stay in their "/4" form (an offset
/// into the COFF string table, which is not part of the mapped image).
/// </param>
public sealed record PeSection(
    string Name,
    uint VirtualAddress,
    uint VirtualSize,
    uint SizeOfRawData,
    uint PointerToRawData,
    uint Characteristics)
{
    /// <summary>The bytes the section occupies in memory: VirtualSize, or SizeOfRawData when VirtualSize is 0.</summary>
    public uint MappedSize => VirtualSize != 0 ? VirtualSize : SizeOfRawData;

    public bool ContainsRva(uint rva) => rva >= VirtualAddress && rva - VirtualAddress < MappedSize;
}

/// <summary>
/// The headers of a mapped PE image (DOS header, COFF file header, optional header PE32/PE32+, data
/// directories, section table), read through an <see cref="IImageBytes"/>.
/// </summary>
/// <remarks>
/// Every field comes from bytes that may be hostile or missing (a dump holds what it holds). The parser
/// never throws on content, allocates only for what it actually read (the section table is capped at
/// <see cref="MaxSections"/>), and does a bounded amount of work; where a header says more than is there,
/// it keeps what is there and notes it in <see cref="Problems"/>.
/// </remarks>
public sealed class PeImage
{
    public const ushort DosSignature = 0x5A4D;      // "MZ"
    public const uint NtSignature = 0x00004550;     // "PE\0\0"
    public const ushort Pe32Magic = 0x10B;
    public const ushort Pe32PlusMagic = 0x20B;
    /// <summary>Largest e_lfanew accepted: the NT headers of a real image sit in its first pages.</summary>
    public const uint MaxNtHeaderOffset = 0x1000_0000;
    /// <summary>
    /// Section headers read at most. The format allows 65535; linked images have a few dozen (the PE spec
    /// names 96 as the old loader's limit).
    /// </summary>
    public const int MaxSections = 1024;
    /// <summary>Data directories defined by the format; NumberOfRvaAndSizes beyond this is ignored.</summary>
    public const int MaxDataDirectories = 16;

    private const int DosHeaderSize = 64;
    private const int FileHeaderSize = 20;
    private const int SectionHeaderSize = 40;
    private const int SectionChunk = 32; // section headers read per Read call
    private const int Pe32DirectoriesOffset = 96;
    private const int Pe32PlusDirectoriesOffset = 112;
    private const int MaxOptionalHeader = Pe32PlusDirectoriesOffset + MaxDataDirectories * 8; // 240

    private readonly PeDataDirectory[] _directories;
    private readonly List<string> _problems;

    public IImageBytes Bytes { get; }

    /// <summary>e_lfanew: offset of the "PE\0\0" signature.</summary>
    public uint NtHeaderOffset { get; }

    // COFF file header.
    public ushort Machine { get; }
    public ushort NumberOfSections { get; }
    public uint TimeDateStamp { get; }
    public uint PointerToSymbolTable { get; }
    public uint NumberOfSymbols { get; }
    public ushort SizeOfOptionalHeader { get; }
    public ushort Characteristics { get; }

    // Optional header.
    /// <summary>0x10B (PE32) or 0x20B (PE32+).</summary>
    public ushort Magic { get; }
    public bool Is64Bit => Magic == Pe32PlusMagic;
    public byte MajorLinkerVersion { get; }
    public byte MinorLinkerVersion { get; }
    public uint SizeOfCode { get; }
    public uint AddressOfEntryPoint { get; }
    public uint BaseOfCode { get; }
    /// <summary>The preferred base address (where the linker placed the image, not necessarily where it was loaded).</summary>
    public ulong ImageBase { get; }
    public uint SectionAlignment { get; }
    public uint FileAlignment { get; }
    public ushort MajorOperatingSystemVersion { get; }
    public ushort MinorOperatingSystemVersion { get; }
    public ushort MajorImageVersion { get; }
    public ushort MinorImageVersion { get; }
    public ushort MajorSubsystemVersion { get; }
    public ushort MinorSubsystemVersion { get; }
    public uint SizeOfImage { get; }
    public uint SizeOfHeaders { get; }
    public uint CheckSum { get; }
    public ushort Subsystem { get; }
    public ushort DllCharacteristics { get; }
    public ulong SizeOfStackReserve { get; }
    public ulong SizeOfStackCommit { get; }
    /// <summary>As the header says (may exceed 16 or what fits in the optional header).</summary>
    public uint NumberOfRvaAndSizes { get; }

    /// <summary>The data directories that are there: min(NumberOfRvaAndSizes, 16, what fits in SizeOfOptionalHeader).</summary>
    public IReadOnlyList<PeDataDirectory> DataDirectories => _directories;

    /// <summary>The section headers read (at most NumberOfSections, <see cref="MaxSections"/>, and what could be read).</summary>
    public IReadOnlyList<PeSection> Sections { get; }

    /// <summary>What did not match the format (e.g. a section table that could not be read whole).</summary>
    public IReadOnlyList<string> Problems => _problems;

    public bool IsDll => (Characteristics & 0x2000) != 0;

    private PeImage(IImageBytes bytes, uint ntOffset, ReadOnlySpan<byte> fileHeader, ReadOnlySpan<byte> optional,
        List<string> problems)
    {
        Bytes = bytes;
        NtHeaderOffset = ntOffset;
        _problems = problems;

        Machine = U16(fileHeader, 0);
        NumberOfSections = U16(fileHeader, 2);
        TimeDateStamp = U32(fileHeader, 4);
        PointerToSymbolTable = U32(fileHeader, 8);
        NumberOfSymbols = U32(fileHeader, 12);
        SizeOfOptionalHeader = U16(fileHeader, 16);
        Characteristics = U16(fileHeader, 18);

        // Fields past SizeOfOptionalHeader read as 0 (U16/U32/U64 clip to the span).
        Magic = U16(optional, 0);
        bool pe64 = Magic == Pe32PlusMagic;
        MajorLinkerVersion = optional.Length > 2 ? optional[2] : (byte)0;
        MinorLinkerVersion = optional.Length > 3 ? optional[3] : (byte)0;
        SizeOfCode = U32(optional, 4);
        AddressOfEntryPoint = U32(optional, 16);
        BaseOfCode = U32(optional, 20);
        ImageBase = pe64 ? U64(optional, 24) : U32(optional, 28);
        SectionAlignment = U32(optional, 32);
        FileAlignment = U32(optional, 36);
        MajorOperatingSystemVersion = U16(optional, 40);
        MinorOperatingSystemVersion = U16(optional, 42);
        MajorImageVersion = U16(optional, 44);
        MinorImageVersion = U16(optional, 46);
        MajorSubsystemVersion = U16(optional, 48);
        MinorSubsystemVersion = U16(optional, 50);
        SizeOfImage = U32(optional, 56);
        SizeOfHeaders = U32(optional, 60);
        CheckSum = U32(optional, 64);
        Subsystem = U16(optional, 68);
        DllCharacteristics = U16(optional, 70);
        SizeOfStackReserve = pe64 ? U64(optional, 72) : U32(optional, 72);
        SizeOfStackCommit = pe64 ? U64(optional, 80) : U32(optional, 76);
        int countAt = pe64 ? 108 : 92;
        int directoriesAt = pe64 ? Pe32PlusDirectoriesOffset : Pe32DirectoriesOffset;
        NumberOfRvaAndSizes = U32(optional, countAt);

        int fit = Math.Max(0, (optional.Length - directoriesAt) / 8);
        int count = (int)Math.Min(Math.Min(NumberOfRvaAndSizes, MaxDataDirectories), (uint)fit);
        if (NumberOfRvaAndSizes > (uint)count)
            problems.Add($"NumberOfRvaAndSizes is {NumberOfRvaAndSizes}; {count} data directories are present.");
        _directories = new PeDataDirectory[count];
        for (int i = 0; i < count; i++)
            _directories[i] = new PeDataDirectory(U32(optional, directoriesAt + 8 * i), U32(optional, directoriesAt + 8 * i + 4));

        Sections = ReadSections(bytes, ntOffset + 4 + FileHeaderSize + SizeOfOptionalHeader, NumberOfSections, problems);
    }

    /// <summary>
    /// Parses the headers of the image <paramref name="bytes"/> holds. Null when there is no image there: no
    /// "MZ", an e_lfanew out of range, no "PE\0\0", an unreadable file header, or an optional header that is
    /// neither PE32 nor PE32+. Never throws on content.
    /// </summary>
    public static PeImage? TryParse(IImageBytes bytes)
    {
        Span<byte> dos = stackalloc byte[DosHeaderSize];
        if (bytes.Read(0, dos) != DosHeaderSize || U16(dos, 0) != DosSignature) return null;
        uint ntOffset = U32(dos, 60);
        // e_lfanew may overlap the DOS header in tiny hand-made images, but must leave room for "MZ".
        if (ntOffset < 4 || ntOffset > MaxNtHeaderOffset) return null;

        Span<byte> nt = stackalloc byte[4 + FileHeaderSize];
        if (bytes.Read(ntOffset, nt) != nt.Length || U32(nt, 0) != NtSignature) return null;
        var fileHeader = nt[4..];

        ushort optionalSize = U16(fileHeader, 16);
        Span<byte> optional = stackalloc byte[MaxOptionalHeader];
        int wanted = Math.Min((int)optionalSize, MaxOptionalHeader);
        int got = bytes.Read(ntOffset + 4 + FileHeaderSize, optional[..wanted]);
        optional = optional[..got];
        ushort magic = U16(optional, 0);
        if (magic != Pe32Magic && magic != Pe32PlusMagic) return null;

        var problems = new List<string>();
        if (got < wanted) problems.Add($"The optional header ({optionalSize} bytes) could be read only to byte {got}.");
        return new PeImage(bytes, ntOffset, fileHeader, optional, problems);
    }

    private static PeSection[] ReadSections(IImageBytes bytes, uint tableAt, ushort declared, List<string> problems)
    {
        int wanted = Math.Min((int)declared, MaxSections);
        if (declared > MaxSections)
            problems.Add($"NumberOfSections is {declared}; only the first {MaxSections} are read.");
        var sections = new List<PeSection>(Math.Min(wanted, SectionChunk));
        Span<byte> chunk = stackalloc byte[SectionChunk * SectionHeaderSize];
        while (sections.Count < wanted)
        {
            ulong at = tableAt + (ulong)sections.Count * SectionHeaderSize;
            if (at > uint.MaxValue) break;
            int n = Math.Min(SectionChunk, wanted - sections.Count);
            int got = bytes.Read((uint)at, chunk[..(n * SectionHeaderSize)]) / SectionHeaderSize;
            for (int i = 0; i < got; i++)
            {
                var s = chunk.Slice(i * SectionHeaderSize, SectionHeaderSize);
                sections.Add(new PeSection(SectionName(s[..8]), U32(s, 12), U32(s, 8), U32(s, 16), U32(s, 20), U32(s, 36)));
            }
            if (got < n) break;
        }
        if (sections.Count < wanted)
            problems.Add($"Only {sections.Count} of {declared} section headers could be read.");
        return sections.ToArray();
    }

    private static string SectionName(ReadOnlySpan<byte> raw)
    {
        int nul = raw.IndexOf((byte)0);
        return Encoding.Latin1.GetString(nul >= 0 ? raw[..nul] : raw);
    }

    /// <summary>The data directory at <paramref name="index"/>, or an empty one when the header has fewer.</summary>
    public PeDataDirectory GetDirectory(PeDirectory index) =>
        (int)index < _directories.Length ? _directories[(int)index] : default;

    /// <summary>The section whose memory holds <paramref name="rva"/>, if any.</summary>
    public PeSection? SectionAt(uint rva)
    {
        foreach (var s in Sections)
            if (s.ContainsRva(rva)) return s;
        return null;
    }

    /// <summary>
    /// Where <paramref name="rva"/>'s byte lies in the image file: in the headers (below SizeOfHeaders or the
    /// first section) the offset equals the RVA; in a section, PointerToRawData plus the offset into the
    /// section, when that byte is backed by the file (not zero-fill past SizeOfRawData). Null otherwise.
    /// For a file-backed <see cref="IImageBytes"/>.
    /// </summary>
    public uint? RvaToFileOffset(uint rva)
    {
        if (SectionAt(rva) is { } s)
        {
            uint delta = rva - s.VirtualAddress;
            if (delta >= s.SizeOfRawData) return null;
            ulong offset = (ulong)s.PointerToRawData + delta;
            return offset <= uint.MaxValue ? (uint)offset : null;
        }
        uint headersEnd = SizeOfHeaders;
        foreach (var section in Sections)
            if (section.VirtualAddress != 0 && section.VirtualAddress < headersEnd) headersEnd = section.VirtualAddress;
        return rva < headersEnd ? rva : null;
    }

    /// <summary>Reads the image at <paramref name="rva"/>; see <see cref="IImageBytes.Read"/>.</summary>
    public int Read(uint rva, Span<byte> buffer) => Bytes.Read(rva, buffer);

    internal static ushort U16(ReadOnlySpan<byte> b, int at) =>
        at >= 0 && at <= b.Length - 2 ? BinaryPrimitives.ReadUInt16LittleEndian(b[at..]) : (ushort)0;

    internal static uint U32(ReadOnlySpan<byte> b, int at) =>
        at >= 0 && at <= b.Length - 4 ? BinaryPrimitives.ReadUInt32LittleEndian(b[at..]) : 0u;

    internal static ulong U64(ReadOnlySpan<byte> b, int at) =>
        at >= 0 && at <= b.Length - 8 ? BinaryPrimitives.ReadUInt64LittleEndian(b[at..]) : 0ul;
}
