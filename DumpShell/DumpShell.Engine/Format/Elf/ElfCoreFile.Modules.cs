using System.Collections.Immutable;
using DumpShell.Format.Minidump;

namespace DumpShell.Format.Elf;

/// <summary>
/// A file mapped into the dumped process, from NT_FILE's entries for one path: a native ELF image, a managed
/// assembly (PE) the .NET runtime mapped, or a data file.
/// </summary>
public sealed class ElfModule
{
    /// <summary>The path as NT_FILE gives it (the kernel appends " (deleted)" to files removed since mapping).</summary>
    public string Path { get; }
    /// <summary>The file name part of <see cref="Path"/>.</summary>
    public string Name { get; }
    /// <summary>The lowest start of the path's mappings.</summary>
    public ulong BaseAddress { get; }
    /// <summary>The highest end of the path's mappings (exclusive).</summary>
    public ulong EndAddress { get; }
    public ulong Size => EndAddress - BaseAddress;
    /// <summary>The NT_FILE entries of this path, sorted by start.</summary>
    public IReadOnlyList<ElfFileMapping> Mappings { get; }
    /// <summary>What the first page of the lowest mapping from file offset 0 holds, when the core captured it.</summary>
    public ElfImageKind ImageKind { get; }
    /// <summary>Where the file's offset 0 is mapped (the ELF or PE header); null when no mapping starts at offset 0.</summary>
    public ulong? ImageAddress { get; }
    /// <summary>NT_GNU_BUILD_ID of an ELF image, from its PT_NOTE segments in the dumped memory; empty when not captured or absent.</summary>
    public ImmutableArray<byte> BuildId { get; }
    /// <summary>The build id as lowercase hex (how debuginfod and symbol stores key ELF files); null when unknown.</summary>
    public string? BuildIdHex => BuildId.IsDefaultOrEmpty ? null : Convert.ToHexStringLower(BuildId.AsSpan());

    internal ElfModule(string path, IReadOnlyList<ElfFileMapping> mappings, ElfImageKind kind, ulong? imageAddress, ImmutableArray<byte> buildId)
    {
        Path = path;
        int slash = path.LastIndexOf('/');
        Name = slash >= 0 ? path[(slash + 1)..] : path;
        Mappings = mappings;
        BaseAddress = mappings.Min(m => m.Start);
        EndAddress = mappings.Max(m => m.End);
        ImageKind = kind;
        ImageAddress = imageAddress;
        BuildId = buildId.IsDefault ? ImmutableArray<byte>.Empty : buildId;
    }

    public bool Contains(ulong address) => address >= BaseAddress && address < EndAddress;

    public override string ToString() => $"{Name} 0x{BaseAddress:x}-0x{EndAddress:x}";
}

public sealed partial class ElfCoreFile
{
    /// <summary>No real ELF image has more program headers than this; more is corruption.</summary>
    private const int MaxImageProgramHeaders = 256;
    private const int MaxBuildIdNoteBytes = 64 * 1024;

    private IReadOnlyList<ElfModule> _modules = [];
    private bool _modulesRead;

    /// <summary>
    /// The mapped files of NT_FILE grouped by path (base = lowest start, end = highest end of the group), sorted
    /// by base address. A path mapped at separate places gives one module per place: the .NET runtime maps a
    /// managed assembly twice (once flat, once as a loaded image), and one module spanning both would cover
    /// tens of gigabytes and other modules. A new place starts where another file's mapping lies between two
    /// of the path's mappings, or where the path is mapped again from file offset 0 more than 64 KiB after its
    /// last mapping. Kernel pseudo-files that are not images are left out (anonymous shared memory "/dev/zero",
    /// "/SYSV...", "/memfd:..." such as .NET's W^X double mapping, "[...]" names); they stay in
    /// <see cref="FileMappings"/>.
    /// </summary>
    public IReadOnlyList<ElfModule> Modules => Once(ref _modules, ref _modulesRead, BuildModules);

    /// <summary>The first module whose file name is <paramref name="fileName"/> (ordinal), e.g. "libcoreclr.so".</summary>
    public ElfModule? FindModule(string fileName) => Modules.FirstOrDefault(m => m.Name == fileName);

    /// <summary>The module whose range holds <paramref name="address"/>, if any.</summary>
    public ElfModule? ModuleAt(ulong address) => Modules.FirstOrDefault(m => m.Contains(address));

    /// <summary>The main executable: the module that holds the auxiliary vector's AT_PHDR (or AT_ENTRY); null when unknown.</summary>
    public ElfModule? MainModule =>
        (AuxvValue(ElfAuxvType.Phdr) is { } phdr ? ModuleAt(phdr) : null) ??
        (AuxvValue(ElfAuxvType.Entry) is { } entry ? ModuleAt(entry) : null);

    /// <summary>True for NT_FILE paths that name anonymous or special memory rather than a file someone loaded.</summary>
    public static bool IsPseudoFile(string path) =>
        path.Length == 0 || path.StartsWith('[') || path.StartsWith("/memfd:", StringComparison.Ordinal) ||
        path.StartsWith("/dev/", StringComparison.Ordinal) || path.StartsWith("/SYSV", StringComparison.Ordinal) ||
        path.StartsWith("anon_inode:", StringComparison.Ordinal);

    /// <summary>Largest gap between two mappings of one loaded image that are both from file offset 0 (a PE header page and its first section).</summary>
    private const ulong MaxImageGap = 64 * 1024;

    private IReadOnlyList<ElfModule> BuildModules()
    {
        var sorted = FileMappings.Where(m => !IsPseudoFile(m.Path)).OrderBy(m => m.Start).ToArray(); // OrderBy is stable
        var groups = new List<List<ElfFileMapping>>();
        for (int i = 0; i < sorted.Length; i++)
        {
            var m = sorted[i];
            var last = groups.Count > 0 ? groups[^1] : null;
            bool sameGroup = last is not null && last[0].Path == m.Path &&
                             !(m.PageOffset == 0 && m.Start - Math.Min(m.Start, last[^1].End) > MaxImageGap);
            if (sameGroup) last!.Add(m);
            else groups.Add([m]);
        }

        var modules = new List<ElfModule>(groups.Count);
        foreach (var mappings in groups)
        {
            ulong? image = null;
            foreach (var m in mappings)
                if (m.PageOffset == 0) { image = m.Start; break; }
            var kind = ElfImageKind.NotCaptured;
            var buildId = ImmutableArray<byte>.Empty;
            if (image is { } at)
            {
                kind = KindAt(at);
                if (kind == ElfImageKind.Elf) buildId = ReadBuildId(at);
            }
            modules.Add(new ElfModule(mappings[0].Path, mappings.ToArray(), kind, image, buildId));
        }
        return modules.ToArray();
    }

    private ElfImageKind KindAt(ulong address)
    {
        Span<byte> start = stackalloc byte[4];
        int got = Memory.Read(address, start);
        if (got < 2) return ElfImageKind.NotCaptured;
        if (got == 4 && HasElfSignature(start)) return ElfImageKind.Elf;
        if (start[0] == (byte)'M' && start[1] == (byte)'Z') return ElfImageKind.PE;
        return ElfImageKind.Other;
    }

    /// <summary>
    /// The GNU build id of the 64-bit little-endian ELF image whose header is at <paramref name="header"/>: its
    /// program headers give the PT_NOTE segments, read at load bias + p_vaddr. Empty when any of it is not in
    /// the core. Never reports: a module's own header is only ever partly captured.
    /// </summary>
    internal ImmutableArray<byte> ReadBuildId(ulong header)
    {
        var memory = Memory;
        Span<byte> ehdr = stackalloc byte[HeaderSize];
        if (memory.Read(header, ehdr) < HeaderSize) return [];
        var e = new ByteReader(ehdr);
        if (e.U8(4) != 2 || e.U8(5) != 1) return [];
        ulong phoff = e.U64(32);
        int phentsize = e.U16(54), phnum = e.U16(56);
        if (phentsize < ProgramHeaderSize || phnum == 0 || phnum > MaxImageProgramHeaders || phoff > uint.MaxValue) return [];
        var phdrs = new byte[phnum * phentsize];
        if (memory.Read(header + phoff, phdrs) < phdrs.Length) return [];

        // The load bias: the PT_LOAD with the lowest file offset maps that offset at header + (offset) ...
        ulong? bias = null;
        ulong lowestOffset = ulong.MaxValue;
        for (int i = 0; i < phnum; i++)
        {
            var p = new ByteReader(phdrs.AsSpan(i * phentsize, ProgramHeaderSize));
            if (p.U32(0) != (uint)ElfSegmentType.Load || p.U64(8) >= lowestOffset) continue;
            lowestOffset = p.U64(8);
            // header sits at file offset 0, so the segment's p_vaddr - p_offset is where offset 0 was linked.
            bias = header - (p.U64(16) - p.U64(8));
        }
        if (bias is not { } loadBias) return [];

        for (int i = 0; i < phnum; i++)
        {
            var p = new ByteReader(phdrs.AsSpan(i * phentsize, ProgramHeaderSize));
            if (p.U32(0) != (uint)ElfSegmentType.Note) continue;
            ulong size = p.U64(32);
            if (size == 0 || size > MaxBuildIdNoteBytes) continue;
            var notes = new byte[size];
            if (memory.Read(loadBias + p.U64(16), notes) < notes.Length) continue;
            int align = p.U64(48) == 8 ? 8 : 4;
            var id = FindBuildId(notes, align);
            if (!id.IsEmpty) return id;
        }
        return [];
    }

    internal static ImmutableArray<byte> FindBuildId(ReadOnlySpan<byte> notes, int align)
    {
        var r = new ByteReader(notes);
        long at = 0;
        while (at + 12 <= notes.Length)
        {
            uint nameSize = r.U32((int)at), descSize = r.U32((int)at + 4), type = r.U32((int)at + 8);
            long nameAt = at + 12;
            long descAt = nameAt + Align(nameSize, align);
            if (descAt + descSize > notes.Length) break;
            if (type == ElfNoteTypes.GnuBuildId && nameSize == 4 && notes.Slice((int)nameAt, 4).SequenceEqual("GNU\0"u8) &&
                descSize is > 0 and <= 64)
                return [.. notes.Slice((int)descAt, (int)descSize)];
            at = descAt + Align(descSize, align);
        }
        return [];
    }
}
