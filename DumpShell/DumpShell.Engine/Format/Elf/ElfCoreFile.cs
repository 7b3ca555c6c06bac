using System.Collections.Concurrent;
using DumpShell.Format.Minidump;

namespace DumpShell.Format.Elf;

/// <summary>
/// An opened Linux ELF core file (64-bit little-endian ET_CORE; x86_64 and aarch64 registers): the ELF header and
/// program header table are read at open, the notes, memory index and modules on first use. The file is mapped,
/// so only the pages a caller touches are read.
/// </summary>
/// <remarks>
/// <para>Only a file that is no ELF core at all throws (<see cref="DumpFormatException"/> "NotAnElfCore", or
/// "DumpFileNotFound"/"PathIsDirectory" for the path). Anything else that cannot be read as the format says (a
/// truncated file, notes past their segment, hostile counts and sizes) is collected in <see cref="Problems"/>
/// and reading goes on with what is there. A problem's <see cref="DumpProblem.Stream"/> is the note type
/// (NT_*) it is about, or null for the header and program headers.</para>
/// <para>Memory: a PT_LOAD segment provides its first p_filesz bytes from the file; the rest of p_memsz is
/// <b>not captured</b>, not zero. Core writers (the kernel's coredump_filter, createdump) leave out whole
/// mappings by writing p_filesz = 0, and what they leave out (library code, shared memory) was not zero in the
/// process, so <see cref="Memory"/> reads stop there. <see cref="Segments"/> still shows those ranges for
/// region listings.</para>
/// </remarks>
public sealed partial class ElfCoreFile : IDisposable
{
    public const int HeaderSize = 64;
    private const int ProgramHeaderSize = 56;
    private const int SectionHeaderSize = 64;
    private const ushort PnXNum = 0xFFFF;
    private const ushort EtCore = 4;

    private readonly ConcurrentDictionary<DumpProblem, byte> _problems = new();
    private readonly ElfSegment[] _segments;

    public MappedFile File { get; }
    public string Path => File.Path;

    /// <summary>e_ident[EI_OSABI]: 0 (System V) from the kernel, 3 (GNU/Linux) from createdump.</summary>
    public byte OsAbi { get; }
    /// <summary>e_machine as written.</summary>
    public ElfMachine Machine { get; }
    /// <summary>True for the machines whose register layout this reader knows (x86_64, aarch64).</summary>
    public bool IsMachineSupported => Machine is ElfMachine.X86_64 or ElfMachine.AArch64;
    public int PointerSize => 8;
    public uint Flags { get; }
    /// <summary>The program header count the header declares (after PN_XNUM: from section header 0's sh_info).</summary>
    public uint DeclaredSegmentCount { get; }

    /// <summary>Every program header that lies in the file, in table order.</summary>
    public IReadOnlyList<ElfSegment> Segments => _segments;

    /// <summary>Problems seen so far, in no particular order; reading more of the file can add to them.</summary>
    public IReadOnlyCollection<DumpProblem> Problems => _problems.Keys.ToArray();

    internal void Report(string errorId, string message, uint? noteType = null) =>
        _problems.TryAdd(new DumpProblem(errorId, message, noteType), 0);

    private ElfCoreFile(MappedFile file, ByteReader header)
    {
        File = file;
        OsAbi = header.U8(7);
        Machine = (ElfMachine)header.U16(18);
        Flags = header.U32(48);
        if (!IsMachineSupported)
            Report("UnsupportedMachine",
                $"The core file is for machine {header.U16(18)} ({Machine}); only x86_64 and aarch64 registers are read. Memory and mapped files still are.");
        (_segments, DeclaredSegmentCount) = ReadProgramHeaders(header);
        CheckSegments();
    }

    /// <summary>True when <paramref name="start"/> begins with the ELF magic 0x7F 'E' 'L' 'F' (any class or type).</summary>
    public static bool HasElfSignature(ReadOnlySpan<byte> start) =>
        start.Length >= 4 && start[0] == 0x7F && start[1] == (byte)'E' && start[2] == (byte)'L' && start[3] == (byte)'F';

    /// <summary>Opens and maps <paramref name="path"/>; throws <see cref="DumpFormatException"/> when it is no 64-bit little-endian ELF core.</summary>
    public static ElfCoreFile Open(string path)
    {
        if (System.IO.Directory.Exists(path))
            throw new DumpFormatException("PathIsDirectory", $"'{path}' is a directory, not a dump file.", path);
        if (!System.IO.File.Exists(path))
            throw new DumpFormatException("DumpFileNotFound", $"Cannot find the dump file '{path}'.", path);
        long length = new FileInfo(path).Length;
        if (length == 0)
            throw NotAnElfCore(path, "it is empty");

        var file = MappedFile.Open(path);
        try
        {
            var bytes = file.Slice(0, HeaderSize);
            var header = new ByteReader(bytes);
            if (!HasElfSignature(bytes))
                throw NotAnElfCore(path, "it does not start with the ELF signature 0x7F 'ELF'");
            if (bytes.Length < HeaderSize)
                throw NotAnElfCore(path, $"it is {bytes.Length} bytes long, too short for an ELF header ({HeaderSize} bytes)");
            if (header.U8(4) != 2)
                throw NotAnElfCore(path, header.U8(4) == 1 ? "it is a 32-bit ELF file (only 64-bit core files are read)" : $"its ELF class is {header.U8(4)}");
            if (header.U8(5) != 1)
                throw NotAnElfCore(path, "it is a big-endian ELF file (only little-endian core files are read)");
            ushort type = header.U16(16);
            if (type != EtCore)
                throw NotAnElfCore(path, $"it is an ELF {TypeName(type)}, not a core file");
            return new ElfCoreFile(file, header);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static DumpFormatException NotAnElfCore(string path, string why) =>
        new("NotAnElfCore", $"'{path}' is not an ELF core file: {why}.", path);

    private static string TypeName(ushort type) => type switch
    {
        0 => "file of no type",
        1 => "relocatable object",
        2 => "executable",
        3 => "shared object",
        _ => $"file of type {type}",
    };

    private (ElfSegment[], uint) ReadProgramHeaders(ByteReader header)
    {
        ulong phoff = header.U64(32);
        ulong shoff = header.U64(40);
        ushort phentsize = header.U16(54);
        uint count = header.U16(56);
        ushort shentsize = header.U16(58);
        if (count == PnXNum)
        {
            // More than 65534 segments: the real count is section header 0's sh_info (createdump always does this
            // when it has that many; the kernel too).
            if (shentsize >= SectionHeaderSize && shoff < long.MaxValue && File.Contains((long)shoff, SectionHeaderSize))
            {
                count = new ByteReader(File.Slice((long)shoff, SectionHeaderSize)).U32(44);
            }
            else
            {
                Report("ProgramHeaderCountUnreadable",
                    $"The ELF header's program header count is PN_XNUM (0xFFFF), but section header 0 at 0x{shoff:X} that holds the real count is not in the {File.Length}-byte file.");
                return ([], count);
            }
        }
        if (count == 0)
        {
            Report("NoSegments", "The core file has no program headers: no notes and no memory.");
            return ([], 0);
        }
        if (phentsize < ProgramHeaderSize)
        {
            Report("ProgramHeaderSizeInvalid",
                $"The ELF header gives program headers of {phentsize} bytes; a 64-bit program header is {ProgramHeaderSize}. No segment is read.");
            return ([], count);
        }

        long fits = phoff < (ulong)File.Length ? (File.Length - (long)phoff) / phentsize : 0;
        long read = Math.Min(count, fits);
        if (read < count)
            Report("ProgramHeadersTruncated",
                $"The ELF header declares {count} program headers at 0x{phoff:X}, but the {File.Length}-byte file holds only {read} there.");

        var segments = new ElfSegment[read];
        for (int i = 0; i < read; i++)
        {
            var r = new ByteReader(File.Slice((long)phoff + (long)i * phentsize, ProgramHeaderSize));
            segments[i] = new ElfSegment(i, (ElfSegmentType)r.U32(0), (ElfSegmentFlags)r.U32(4), r.U64(8), r.U64(16),
                r.U64(32), r.U64(40), r.U64(48));
        }
        return (segments, count);
    }

    /// <summary>Reports, once per kind, segments that lie past the file's end or whose sizes make no sense.</summary>
    private void CheckSegments()
    {
        int loads = 0, truncated = 0, badSize = 0;
        bool anyNote = false;
        foreach (var s in _segments)
        {
            if (s.Type == ElfSegmentType.Note) anyNote = true;
            if (s.Type != ElfSegmentType.Load) continue;
            loads++;
            if (s.FileSize > s.MemorySize || s.VirtualAddress + s.MemorySize < s.VirtualAddress) badSize++;
            if (s.FileSize > 0 && !File.Contains(Clamp(s.FileOffset), Clamp(Math.Min(s.FileSize, s.MemorySize)))) truncated++;
        }
        if (truncated > 0)
            Report("SegmentsTruncated",
                $"{truncated} of {loads} PT_LOAD segments lie wholly or partly past the end of the {File.Length}-byte file (a cut-short core); their missing bytes read as not captured.");
        if (badSize > 0)
            Report("SegmentSizeInvalid",
                $"{badSize} PT_LOAD segments have p_filesz greater than p_memsz or run past the end of the address space; they are clipped.");
        if (!anyNote && _segments.Length > 0)
            Report("NoNoteSegment", "The core file has no PT_NOTE segment: no threads, registers, process information or mapped files.");
        if (loads == 0 && _segments.Length > 0)
            Report("NoLoadSegments", "The core file has no PT_LOAD segment: no process memory.");
    }

    internal static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    private MemoryReader? _memory;

    /// <summary>
    /// Process memory from the PT_LOAD segments: each segment's first p_filesz bytes (clipped to p_memsz and to
    /// the file). Bytes between p_filesz and p_memsz, and segments not in the file, are not captured: a read
    /// stops there. Where segments overlap, the one listed first wins. Reads continue across adjacent segments.
    /// </summary>
    public MemoryReader Memory => LazyInitializer.EnsureInitialized(ref _memory, ref _lazyLock, BuildMemory);

    private MemoryReader BuildMemory()
    {
        var ranges = new List<MemoryDescriptor>();
        int overlaps = 0;
        ulong lastEnd = 0, lastStart = 0;
        bool sorted = true;
        foreach (var s in _segments)
        {
            if (s.Type != ElfSegmentType.Load || s.FileSize == 0) continue;
            ulong size = Math.Min(s.FileSize, s.MemorySize);
            size = Math.Min(size, ulong.MaxValue - s.VirtualAddress);
            // Clip to the file: a cut-short core holds fewer bytes than its headers say.
            long inFile = s.FileOffset < (ulong)File.Length ? File.Length - (long)s.FileOffset : 0;
            size = Math.Min(size, (ulong)inFile);
            if (size == 0) continue;
            if (ranges.Count > 0)
            {
                if (s.VirtualAddress < lastStart) sorted = false;
                else if (s.VirtualAddress < lastEnd) overlaps++;
            }
            lastStart = s.VirtualAddress;
            lastEnd = s.VirtualAddress + size;
            ranges.Add(new MemoryDescriptor(s.VirtualAddress, size, s.FileOffset));
        }
        if (overlaps > 0 || !sorted)
        {
            var check = ranges.OrderBy(r => r.StartOfMemoryRange).ToArray();
            overlaps = 0;
            for (int i = 1; i < check.Length; i++)
                if (check[i].StartOfMemoryRange < check[i - 1].StartOfMemoryRange + check[i - 1].DataSize) overlaps++;
        }
        if (overlaps > 0)
            Report("SegmentsOverlap",
                $"{overlaps} PT_LOAD segments overlap others in the address space; where they do, the segment listed first is read.");
        return new MemoryReader(File, ranges);
    }

    /// <summary>The PT_LOAD segment whose address range (p_vaddr, p_memsz) holds <paramref name="address"/>, captured or not.</summary>
    public ElfSegment? SegmentAt(ulong address)
    {
        foreach (var s in _segments)
            if (s.Type == ElfSegmentType.Load && address >= s.VirtualAddress && address < s.EndAddress) return s;
        return null;
    }

    private object? _lazyLock;

    /// <summary>Parses something once, on first use, safely when several threads ask at the same time.</summary>
    private T Once<T>(ref T field, ref bool done, Func<T> read) =>
        LazyInitializer.EnsureInitialized(ref field, ref done, ref _lazyLock, read);

    public void Dispose() => File.Dispose();
}
