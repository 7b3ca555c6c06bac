using System.Buffers.Binary;
using System.Text;

namespace DumpShell.Tests.Managed;

/// <summary>
/// Writes small synthetic ELF core files (64-bit little-endian ET_CORE) byte by byte, for tests that need exact
/// layouts or broken ones: ELF header, program headers (optionally PN_XNUM with section header 0), one PT_NOTE
/// segment and PT_LOAD segments. Offsets of the parts are returned so tests can corrupt them precisely.
/// </summary>
public sealed class ElfCoreBuilder
{
    public const ushort X86_64 = 62;
    public const ushort AArch64 = 183;

    public ushort Machine { get; set; } = X86_64;
    /// <summary>Write e_phnum = PN_XNUM and the real count in section header 0's sh_info.</summary>
    public bool UseExtendedCount { get; set; }
    public List<(string Owner, uint Type, byte[] Data)> Notes { get; } = new();
    public List<Load> Loads { get; } = new();

    /// <param name="MemorySize">p_memsz; defaults to the data's length.</param>
    public sealed record Load(ulong Address, byte[] Data, ulong? MemorySize = null, uint Flags = 4 | 2);

    /// <summary>The file and where its parts are.</summary>
    public sealed record Built(byte[] Bytes, int ProgramHeaderOffset, int NoteSegmentOffset, int NoteSegmentSize,
        IReadOnlyList<int> NoteOffsets, IReadOnlyList<int> LoadOffsets, int SectionHeaderOffset);

    public ElfCoreBuilder Note(string owner, uint type, byte[] data)
    {
        Notes.Add((owner, type, data));
        return this;
    }

    public ElfCoreBuilder AddLoad(ulong address, byte[] data, ulong? memorySize = null, uint flags = 6)
    {
        Loads.Add(new Load(address, data, memorySize, flags));
        return this;
    }

    public Built Build()
    {
        int phnum = 1 + Loads.Count;
        int phoff = 64;
        int shoff = UseExtendedCount ? phoff + phnum * 56 : 0;
        int noteOffset = phoff + phnum * 56 + (UseExtendedCount ? 64 : 0);

        var notes = new MemoryStream();
        var noteOffsets = new List<int>();
        foreach (var (owner, type, data) in Notes)
        {
            noteOffsets.Add(noteOffset + (int)notes.Length);
            var name = Encoding.ASCII.GetBytes(owner + "\0");
            WriteU32(notes, (uint)name.Length);
            WriteU32(notes, (uint)data.Length);
            WriteU32(notes, type);
            notes.Write(name);
            Pad(notes, 4);
            notes.Write(data);
            Pad(notes, 4);
        }
        int noteSize = (int)notes.Length;

        var file = new MemoryStream();
        file.Write(new byte[noteOffset]);
        file.Write(notes.ToArray());
        var loadOffsets = new List<int>();
        foreach (var load in Loads)
        {
            Pad(file, 16);
            loadOffsets.Add((int)file.Length);
            file.Write(load.Data);
        }
        var bytes = file.ToArray();

        // ELF header
        bytes[0] = 0x7F; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F';
        bytes[4] = 2; bytes[5] = 1; bytes[6] = 1; bytes[7] = 0;
        U16(bytes, 16, 4);            // ET_CORE
        U16(bytes, 18, Machine);
        U32(bytes, 20, 1);
        U64(bytes, 32, (ulong)phoff);
        U64(bytes, 40, (ulong)shoff);
        U16(bytes, 52, 64);
        U16(bytes, 54, 56);
        U16(bytes, 56, UseExtendedCount ? (ushort)0xFFFF : (ushort)phnum);
        U16(bytes, 58, UseExtendedCount ? (ushort)64 : (ushort)0);
        U16(bytes, 60, UseExtendedCount ? (ushort)1 : (ushort)0);
        if (UseExtendedCount) U32(bytes, shoff + 44, (uint)phnum);

        // PT_NOTE, then the PT_LOADs
        int at = phoff;
        U32(bytes, at, 4); U64(bytes, at + 8, (ulong)noteOffset); U64(bytes, at + 32, (ulong)noteSize); U64(bytes, at + 48, 4);
        for (int i = 0; i < Loads.Count; i++)
        {
            at = phoff + (i + 1) * 56;
            var load = Loads[i];
            U32(bytes, at, 1);
            U32(bytes, at + 4, load.Flags);
            U64(bytes, at + 8, (ulong)loadOffsets[i]);
            U64(bytes, at + 16, load.Address);
            U64(bytes, at + 32, (ulong)load.Data.Length);
            U64(bytes, at + 40, load.MemorySize ?? (ulong)load.Data.Length);
            U64(bytes, at + 48, 0x1000);
        }
        return new Built(bytes, phoff, noteOffset, noteSize, noteOffsets, loadOffsets, shoff);
    }

    // ---- note payloads ----

    /// <summary>struct elf_prstatus with pr_reg filled from <paramref name="registers"/> (27 on x86_64, 34 on aarch64).</summary>
    public static byte[] PrStatus(int threadId, int signal, ulong[] registers, int parentId = 1, int groupId = 0)
    {
        var b = new byte[112 + registers.Length * 8 + 8];
        U32(b, 0, (uint)signal);
        U16(b, 12, (ushort)signal);
        U32(b, 32, (uint)threadId);
        U32(b, 36, (uint)parentId);
        U32(b, 40, (uint)groupId);
        for (int i = 0; i < registers.Length; i++) U64(b, 112 + 8 * i, registers[i]);
        return b;
    }

    /// <summary>x86_64 pr_reg with the named registers set and the rest 0.</summary>
    public static ulong[] X64Registers(ulong rip, ulong rsp, ulong rbp = 0, ulong rax = 0)
    {
        var r = new ulong[27];
        r[16] = rip; r[19] = rsp; r[4] = rbp; r[10] = rax;
        r[18] = 0x246; // eflags
        return r;
    }

    /// <summary>aarch64 pr_reg: x0..x30, sp, pc, pstate.</summary>
    public static ulong[] Arm64Registers(ulong pc, ulong sp, ulong fp = 0, ulong lr = 0)
    {
        var r = new ulong[34];
        for (int i = 0; i < 29; i++) r[i] = (ulong)(0x1000 + i);
        r[29] = fp; r[30] = lr; r[31] = sp; r[32] = pc; r[33] = 0x60000000;
        return r;
    }

    public static byte[] PrPsInfo(int pid, int ppid, string fileName, string arguments, char state = 'R')
    {
        var b = new byte[136];
        b[1] = (byte)state;
        U32(b, 16, 1000); U32(b, 20, 1001);
        U32(b, 24, (uint)pid); U32(b, 28, (uint)ppid); U32(b, 32, (uint)pid); U32(b, 36, (uint)pid);
        Encoding.ASCII.GetBytes(fileName).AsSpan(0, Math.Min(15, fileName.Length)).CopyTo(b.AsSpan(40));
        Encoding.ASCII.GetBytes(arguments).AsSpan(0, Math.Min(79, arguments.Length)).CopyTo(b.AsSpan(56));
        return b;
    }

    public static byte[] Auxv(params (ulong Type, ulong Value)[] entries)
    {
        var b = new byte[(entries.Length + 1) * 16];
        for (int i = 0; i < entries.Length; i++)
        {
            U64(b, i * 16, entries[i].Type);
            U64(b, i * 16 + 8, entries[i].Value);
        }
        return b; // the last pair is AT_NULL
    }

    public static byte[] FileNote(ulong pageSize, params (ulong Start, ulong End, ulong PageOffset, string Path)[] files) =>
        FileNote((ulong)files.Length, pageSize, files);

    /// <summary>NT_FILE with a declared count that may differ from the entries written.</summary>
    public static byte[] FileNote(ulong declaredCount, ulong pageSize, (ulong Start, ulong End, ulong PageOffset, string Path)[] files)
    {
        var s = new MemoryStream();
        WriteU64(s, declaredCount);
        WriteU64(s, pageSize);
        foreach (var f in files)
        {
            WriteU64(s, f.Start);
            WriteU64(s, f.End);
            WriteU64(s, f.PageOffset);
        }
        foreach (var f in files)
        {
            s.Write(Encoding.UTF8.GetBytes(f.Path));
            s.WriteByte(0);
        }
        return s.ToArray();
    }

    public static byte[] SigInfo(int signal, int code, ulong address)
    {
        var b = new byte[128];
        U32(b, 0, (uint)signal);
        U32(b, 8, (uint)code);
        U64(b, 16, address);
        return b;
    }

    /// <summary>
    /// The first page of a mapped shared library: an ELF header whose program headers (right after it) give a
    /// PT_LOAD at p_vaddr 0 and a PT_NOTE at <paramref name="noteVaddr"/> holding NT_GNU_BUILD_ID.
    /// </summary>
    public static byte[] ElfImagePage(byte[] buildId, int noteVaddr = 0x200, int size = 0x1000)
    {
        var b = new byte[size];
        b[0] = 0x7F; b[1] = (byte)'E'; b[2] = (byte)'L'; b[3] = (byte)'F';
        b[4] = 2; b[5] = 1; b[6] = 1;
        U16(b, 16, 3); U16(b, 18, X86_64);
        U64(b, 32, 64); U16(b, 54, 56); U16(b, 56, 2);
        // PT_LOAD: offset 0, vaddr 0
        U32(b, 64, 1); U32(b, 68, 5); U64(b, 64 + 32, (ulong)size); U64(b, 64 + 40, (ulong)size); U64(b, 64 + 48, 0x1000);
        // PT_NOTE at noteVaddr
        int note = 64 + 56;
        int descSize = buildId.Length;
        U32(b, note, 4); U64(b, note + 8, (ulong)noteVaddr); U64(b, note + 16, (ulong)noteVaddr);
        U64(b, note + 32, (ulong)(16 + ((descSize + 3) & ~3))); U64(b, note + 48, 4);
        U32(b, noteVaddr, 4); U32(b, noteVaddr + 4, (uint)descSize); U32(b, noteVaddr + 8, 3);
        "GNU\0"u8.CopyTo(b.AsSpan(noteVaddr + 12));
        buildId.CopyTo(b.AsSpan(noteVaddr + 16));
        return b;
    }

    /// <summary>A typical small x86_64 core: two threads, process info, auxv, NT_FILE with a library whose
    /// first page (with a build id) and a data page are captured, NT_SIGINFO, a stack segment.</summary>
    public static ElfCoreBuilder Typical()
    {
        var builder = new ElfCoreBuilder();
        builder.Note("CORE", 3, PrPsInfo(4242, 1, "app", "app --serve 80"));
        builder.Note("CORE", 6, Auxv((6, 0x1000), (9, 0x400123), (3, 0x400040)));
        builder.Note("CORE", 0x46494C45, FileNote(0x1000,
            (0x400000, 0x401000, 0, "/usr/bin/app"),
            (0x7f0000000000, 0x7f0000001000, 0, "/usr/lib/libfoo.so"),
            (0x7f0000001000, 0x7f0000003000, 1, "/usr/lib/libfoo.so"),
            (0x7f0000010000, 0x7f0000011000, 0, "/dev/zero (deleted)")));
        builder.Note("CORE", 1, PrStatus(4242, 11, X64Registers(rip: 0x7f0000001010, rsp: 0x7ffd0000ff00, rbp: 0x7ffd0000ff40)));
        builder.Note("CORE", 2, new byte[512]);
        builder.Note("CORE", 0x53494749, SigInfo(11, 1, 0xdead0000));
        builder.Note("CORE", 1, PrStatus(4243, 0, X64Registers(rip: 0x400200, rsp: 0x7ffd0001ff00)));
        builder.Note("CORE", 2, new byte[512]);
        builder.AddLoad(0x400000, ElfImagePage([0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89]), flags: 5);
        builder.AddLoad(0x7f0000000000, ElfImagePage([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]), flags: 5);
        builder.AddLoad(0x7f0000001000, Enumerable.Range(0, 0x1000).Select(i => (byte)i).ToArray(), memorySize: 0x2000, flags: 5);
        builder.AddLoad(0x7ffd0000f000, Filled(0x1000, 0x5A));
        builder.AddLoad(0x7ffd00010000, Filled(0x1000, 0xA5)); // adjacent to the one before
        return builder;
    }

    public static byte[] Filled(int size, byte value)
    {
        var b = new byte[size];
        Array.Fill(b, value);
        return b;
    }

    // ---- little-endian helpers ----

    public static void U16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    public static void U32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    public static void U64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);

    private static void WriteU32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    private static void WriteU64(Stream s, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        s.Write(b);
    }

    private static void Pad(Stream s, int align)
    {
        while (s.Length % align != 0) s.WriteByte(0);
    }
}
