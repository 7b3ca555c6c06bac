using DumpShell.Format;
using DumpShell.Format.Elf;

namespace DumpShell.Tests.Managed;

/// <summary>
/// The ELF core reader on synthetic core files: exact layouts (both machines, PN_XNUM, memory rules, modules and
/// build ids) and broken ones (not ELF, cut short anywhere, hostile counts and sizes, random damage), which must
/// give problems, never exceptions or hangs.
/// </summary>
public sealed class ElfMalformedTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dumpshell-elf-" + Guid.NewGuid().ToString("N")[..12]);

    public ElfMalformedTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Write(byte[] bytes, string name = "core")
    {
        string path = Path.Combine(_dir, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private ElfCoreFile Open(byte[] bytes) => ElfCoreFile.Open(Write(bytes));

    /// <summary>The problems' ids after reading everything: notes, threads and modules are read on first use, so are their problems.</summary>
    private static IEnumerable<string> Ids(ElfCoreFile core)
    {
        ElfTouch.TouchAll(core);
        return core.Problems.Select(p => p.ErrorId);
    }

    // ---- well-formed synthetic cores ----

    [Fact]
    public void Typical_core_reads_every_part()
    {
        using var core = Open(ElfCoreBuilder.Typical().Build().Bytes);
        Assert.Empty(core.Problems);
        Assert.Equal(ElfMachine.X86_64, core.Machine);
        Assert.Equal(6, core.Segments.Count);

        Assert.Equal([4242, 4243], core.Threads.Select(t => t.ThreadId));
        var first = core.Threads[0];
        Assert.Equal(11, first.Signal);
        Assert.Equal(0x7f0000001010UL, first.Registers.InstructionPointer);
        Assert.Equal(0x7ffd0000ff00UL, first.Registers.StackPointer);
        Assert.Equal(0x7ffd0000ff40UL, first.Registers.FramePointer);
        Assert.Equal(0x246UL, first.Registers.Get("EFLAGS"));
        Assert.Equal(ElfRegisters.X86_64Names, first.Registers.Names);
        Assert.Equal(["NT_FPREGSET", "NT_SIGINFO"], first.Notes.Select(n => n.TypeName));
        Assert.Same(first, core.SignaledThread);

        var ps = core.ProcessInfo!;
        Assert.Equal((4242, 1, "app", "app --serve 80", 'R', 1000u), (ps.ProcessId, ps.ParentProcessId, ps.FileName, ps.Arguments, ps.State, ps.UserId));
        Assert.Equal(4242, core.ProcessId);
        Assert.Equal(0x1000UL, core.AuxvValue(ElfAuxvType.PageSize));
        Assert.Equal(3, core.Auxv.Count);
        Assert.Equal(["AT_PAGESZ", "AT_ENTRY", "AT_PHDR"], core.Auxv.Select(a => a.Name));

        var sig = core.SignalInfo!;
        Assert.Equal(("SIGSEGV", 1, 0xdead0000UL), (sig.SignalName, sig.Code, sig.FaultAddress!.Value));
        Assert.Null(sig.SenderProcessId);

        Assert.Equal(4, core.FileMappings.Count);
        Assert.Equal(0x1000UL, core.FileMappings[2].FileOffset);
        Assert.Equal(1UL, core.FileMappings[2].PageOffset);
        Assert.Empty(Ids(core));
    }

    [Fact]
    public void Modules_group_a_paths_mappings_and_read_build_ids_from_memory()
    {
        using var core = Open(ElfCoreBuilder.Typical().Build().Bytes);
        // "/dev/zero (deleted)" is shared anonymous memory, not a module.
        Assert.Equal(["/usr/bin/app", "/usr/lib/libfoo.so"], core.Modules.Select(m => m.Path));
        var foo = core.FindModule("libfoo.so")!;
        Assert.Equal((0x7f0000000000UL, 0x7f0000003000UL, 0x3000UL), (foo.BaseAddress, foo.EndAddress, foo.Size));
        Assert.Equal(2, foo.Mappings.Count);
        Assert.Equal(ElfImageKind.Elf, foo.ImageKind);
        Assert.Equal("0102030405060708090a0b0c0d0e0f1011121314", foo.BuildIdHex);
        Assert.Same(foo, core.ModuleAt(0x7f0000002fff));
        Assert.Null(core.ModuleAt(0x7f0000003000));
        Assert.Equal("abcdef0123456789", core.MainModule?.BuildIdHex);
        Assert.Equal("app", core.MainModule?.Name);
    }

    [Fact]
    public void Memory_past_p_filesz_is_not_captured_and_reads_cross_adjacent_segments()
    {
        using var core = Open(ElfCoreBuilder.Typical().Build().Bytes);
        var buffer = new byte[0x20];
        // libfoo's second page: p_filesz 0x1000 of p_memsz 0x2000.
        Assert.Equal(0x10, core.Memory.Read(0x7f0000001ff0, buffer));
        Assert.Equal(0, core.Memory.Read(0x7f0000002000, buffer));
        Assert.NotNull(core.SegmentAt(0x7f0000002000)); // the range exists in the process, uncaptured
        // Two adjacent stack segments read as one.
        Assert.Equal(0x20, core.Memory.Read(0x7ffd0000fff0, buffer));
        Assert.Equal(0x5A, buffer[0xF]);
        Assert.Equal(0xA5, buffer[0x10]);
        Assert.Equal(0, core.Memory.Read(0x1000, buffer));
    }

    [Fact]
    public void Aarch64_registers_are_named_from_user_pt_regs()
    {
        var builder = new ElfCoreBuilder { Machine = ElfCoreBuilder.AArch64 };
        builder.Note("CORE", 1, ElfCoreBuilder.PrStatus(77, 6, ElfCoreBuilder.Arm64Registers(pc: 0xffff0000, sp: 0xfffe0000, fp: 0xfffe0100, lr: 0xffff1234)));
        builder.AddLoad(0xfffe0000, ElfCoreBuilder.Filled(0x100, 1));
        using var core = Open(builder.Build().Bytes);
        Assert.Empty(core.Problems);
        var regs = Assert.Single(core.Threads).Registers;
        Assert.Equal(ElfMachine.AArch64, core.Machine);
        Assert.True(regs.IsComplete);
        Assert.Equal(34, regs.Values.Count);
        Assert.Equal(0xffff0000UL, regs.InstructionPointer);
        Assert.Equal(0xfffe0000UL, regs.StackPointer);
        Assert.Equal(0xfffe0100UL, regs.FramePointer);
        Assert.Equal(0xffff1234UL, regs.LinkRegister);
        Assert.Equal(0x1000UL + 7, regs.Get("x7"));
        Assert.Equal(0x60000000UL, regs.Get("pstate"));
    }

    [Fact]
    public void Extended_program_header_count_comes_from_section_header_zero()
    {
        var builder = ElfCoreBuilder.Typical();
        builder.UseExtendedCount = true;
        using var core = Open(builder.Build().Bytes);
        Assert.Empty(core.Problems);
        Assert.Equal(6u, core.DeclaredSegmentCount);
        Assert.Equal(2, core.Threads.Count);
    }

    [Fact]
    public void Overlapping_segments_report_and_the_first_listed_wins()
    {
        var builder = new ElfCoreBuilder();
        builder.Note("CORE", 1, ElfCoreBuilder.PrStatus(1, 0, ElfCoreBuilder.X64Registers(1, 0x10000)));
        builder.AddLoad(0x10000, ElfCoreBuilder.Filled(0x100, 0x11));
        builder.AddLoad(0x10080, ElfCoreBuilder.Filled(0x100, 0x22));
        using var core = Open(builder.Build().Bytes);
        var b = new byte[0x180];
        Assert.Equal(0x180, core.Memory.Read(0x10000, b));
        Assert.Equal(0x11, b[0xFF]);
        Assert.Equal(0x22, b[0x100]);
        Assert.Contains("SegmentsOverlap", Ids(core));
    }

    // ---- not ELF cores at all ----

    [Theory]
    [InlineData("empty")]
    [InlineData("text")]
    [InlineData("short")]
    [InlineData("elf32")]
    [InlineData("bigendian")]
    [InlineData("executable")]
    [InlineData("minidump")]
    public void Files_that_are_no_ELF_core_throw_NotAnElfCore(string kind)
    {
        var core = ElfCoreBuilder.Typical().Build().Bytes;
        byte[] bytes = kind switch
        {
            "empty" => [],
            "text" => "hello, this is not a core file at all, but it is long enough for a header........"u8.ToArray(),
            "short" => core[..40],
            "elf32" => Patched(core, b => b[4] = 1),
            "bigendian" => Patched(core, b => b[5] = 2),
            "executable" => Patched(core, b => b[16] = 2),
            _ => "MDMP"u8.ToArray().Concat(new byte[200]).ToArray(),
        };
        var e = Assert.Throws<DumpFormatException>(() => ElfCoreFile.Open(Write(bytes)));
        Assert.Equal("NotAnElfCore", e.ErrorId);
        Assert.Contains("not an ELF core file", e.Message);
    }

    [Fact]
    public void Missing_file_and_directory_throw_their_own_ids()
    {
        Assert.Equal("DumpFileNotFound", Assert.Throws<DumpFormatException>(() => ElfCoreFile.Open(Path.Combine(_dir, "nope"))).ErrorId);
        Assert.Equal("PathIsDirectory", Assert.Throws<DumpFormatException>(() => ElfCoreFile.Open(_dir)).ErrorId);
    }

    // ---- broken cores ----

    [Fact]
    public void Cut_short_at_every_byte_gives_problems_not_exceptions()
    {
        var built = ElfCoreBuilder.Typical().Build();
        int end = built.NoteSegmentOffset + built.NoteSegmentSize + 64;
        for (int cut = 1; cut < built.Bytes.Length; cut += cut < end ? 1 : 97)
        {
            var problems = ElfTouch.OpenAndTouchAll(Write(built.Bytes[..cut], $"cut{cut}"), TimeSpan.FromSeconds(5));
            if (cut < ElfCoreFile.HeaderSize)
                Assert.Equal("NotAnElfCore", Assert.Single(problems).ErrorId);
            else
                Assert.NotEmpty(problems);
        }
    }

    [Fact]
    public void Bogus_program_header_counts_and_sizes()
    {
        var bytes = ElfCoreBuilder.Typical().Build().Bytes;
        using (var core = Open(Patched(bytes, b => ElfCoreBuilder.U16(b, 56, 0xFFFE))))
        {
            Assert.Contains("ProgramHeadersTruncated", Ids(core));
            ElfTouch.TouchAll(core);
        }
        using (var core = Open(Patched(bytes, b => ElfCoreBuilder.U16(b, 56, 0xFFFF)))) // PN_XNUM without a section header
        {
            Assert.Contains("ProgramHeaderCountUnreadable", Ids(core));
            Assert.Empty(core.Threads);
        }
        using (var core = Open(Patched(bytes, b => ElfCoreBuilder.U64(b, 32, ulong.MaxValue - 8)))) // e_phoff far past the end
        {
            Assert.Contains("ProgramHeadersTruncated", Ids(core));
            Assert.Empty(core.Segments);
        }
        using (var core = Open(Patched(bytes, b => ElfCoreBuilder.U16(b, 54, 8))))
            Assert.Contains("ProgramHeaderSizeInvalid", Ids(core));
        using (var core = Open(Patched(bytes, b => ElfCoreBuilder.U16(b, 56, 0))))
            Assert.Contains("NoSegments", Ids(core));

        var huge = ElfCoreBuilder.Typical();
        huge.UseExtendedCount = true;
        var built = huge.Build();
        using (var core = Open(Patched(built.Bytes, b => ElfCoreBuilder.U32(b, built.SectionHeaderOffset + 44, uint.MaxValue))))
        {
            Assert.Contains("ProgramHeadersTruncated", Ids(core));
            ElfTouch.TouchAll(core);
        }
    }

    [Fact]
    public void Note_sizes_past_the_end_are_cut_and_reported()
    {
        var built = ElfCoreBuilder.Typical().Build();
        int prstatus = built.NoteOffsets[3];
        // n_descsz of the first NT_PRSTATUS: 4 GB.
        using (var core = Open(Patched(built.Bytes, b => ElfCoreBuilder.U32(b, prstatus + 4, 0xFFFFFFF0))))
        {
            Assert.Contains("NoteTruncated", Ids(core));
            Assert.Equal(4242, Assert.Single(core.Threads).ThreadId); // what is there is still read
            ElfTouch.TouchAll(core);
        }
        // n_namesz huge.
        using (var core = Open(Patched(built.Bytes, b => ElfCoreBuilder.U32(b, prstatus, 0xFFFFFFFF))))
        {
            Assert.Contains("NoteTruncated", Ids(core));
            ElfTouch.TouchAll(core);
        }
        // PT_NOTE p_filesz past the end of the file.
        using (var core = Open(Patched(built.Bytes, b => ElfCoreBuilder.U64(b, built.ProgramHeaderOffset + 32, 1UL << 40))))
        {
            Assert.Contains("NotesTruncated", Ids(core));
            Assert.Equal(2, core.Threads.Count);
        }
        // PT_NOTE p_offset past the end of the file.
        using (var core = Open(Patched(built.Bytes, b => ElfCoreBuilder.U64(b, built.ProgramHeaderOffset + 8, ulong.MaxValue))))
        {
            Assert.Contains("NotesTruncated", Ids(core));
            Assert.Empty(core.Threads);
        }
    }

    [Fact]
    public void Hostile_NT_FILE_counts_and_page_sizes()
    {
        var builder = new ElfCoreBuilder();
        builder.Note("CORE", ElfNoteTypes.File, ElfCoreBuilder.FileNote(1UL << 62, 0x1000, [(0x1000, 0x2000, 0, "/a"), (0x3000, 0x4000, 1, "/b")]));
        using (var core = Open(builder.Build().Bytes))
        {
            Assert.Equal(2, core.FileMappings.Count);
            Assert.Contains(core.Problems, p => p.ErrorId == "FileNoteTruncated" && p.Stream == ElfNoteTypes.File);
            Assert.Contains("FileNoteTruncated", Ids(core));
            ElfTouch.TouchAll(core);
        }

        builder = new ElfCoreBuilder();
        builder.Note("CORE", ElfNoteTypes.File, ElfCoreBuilder.FileNote(0x1003, [(0x1000, 0x2000, 7, "/a")]));
        using (var core = Open(builder.Build().Bytes))
        {
            Assert.Contains("FileNotePageSizeInvalid", Ids(core));
            Assert.Equal(0UL, Assert.Single(core.FileMappings).FileOffset);
        }

        builder = new ElfCoreBuilder();
        builder.Note("CORE", ElfNoteTypes.File, ElfCoreBuilder.FileNote(0x1000, [(0x5000, 0x1000, 0, "/backwards")]));
        using (var core = Open(builder.Build().Bytes))
        {
            Assert.Contains("FileMappingInvalid", Ids(core));
            Assert.Empty(core.FileMappings);
        }

        // Paths cut off: the count fits the table but the strings are missing.
        var note = ElfCoreBuilder.FileNote(0x1000, [(0x1000, 0x2000, 0, "/a"), (0x3000, 0x4000, 0, "/b")]);
        builder = new ElfCoreBuilder();
        builder.Note("CORE", ElfNoteTypes.File, note[..^3]);
        using (var core = Open(builder.Build().Bytes))
        {
            Assert.Contains("FileNoteTruncated", Ids(core));
            Assert.Equal(["/a", ""], core.FileMappings.Select(m => m.Path));
        }
    }

    [Fact]
    public void Short_status_and_process_notes_leave_fields_absent()
    {
        var builder = new ElfCoreBuilder();
        builder.Note("CORE", 1, ElfCoreBuilder.PrStatus(9, 0, ElfCoreBuilder.X64Registers(0x1234, 0x5678))[..(112 + 8 * 10)]);
        builder.Note("CORE", 3, ElfCoreBuilder.PrPsInfo(9, 1, "x", "y")[..30]);
        builder.Note("CORE", 6, ElfCoreBuilder.Auxv((6, 0x1000))[..16]);
        builder.Note("CORE", ElfNoteTypes.SigInfo, new byte[8]);
        using var core = Open(builder.Build().Bytes);
        var thread = Assert.Single(core.Threads);
        Assert.Equal(9, thread.ThreadId);
        Assert.False(thread.Registers.IsComplete);
        Assert.Equal(10, thread.Registers.Values.Count);
        Assert.Null(thread.Registers.InstructionPointer); // absent, not zero
        Assert.Equal(9, core.ProcessId);
        Assert.Equal("", core.ProcessInfo!.FileName);
        Assert.Equal(0x1000UL, core.AuxvValue(ElfAuxvType.PageSize));
        Assert.NotNull(core.SignalInfo);
        var ids = Ids(core).ToHashSet();
        Assert.Superset(new HashSet<string> { "ThreadStatusTruncated", "ProcessInfoTruncated", "AuxvTruncated", "SigInfoTruncated" }, ids);
    }

    [Fact]
    public void Segments_past_the_end_of_the_file_read_as_not_captured()
    {
        var built = ElfCoreBuilder.Typical().Build();
        // The last load (the second stack page) claims to be 1 GB.
        int phdr = built.ProgramHeaderOffset + 5 * 56;
        using var core = Open(Patched(built.Bytes, b => { ElfCoreBuilder.U64(b, phdr + 32, 1UL << 30); ElfCoreBuilder.U64(b, phdr + 40, 1UL << 30); }));
        Assert.Contains("SegmentsTruncated", Ids(core));
        var buffer = new byte[0x2000];
        Assert.Equal(0x1000, core.Memory.Read(0x7ffd00010000, buffer)); // what the file holds, no more
        Assert.True(core.Memory.TotalBytes < 1UL << 20);
    }

    [Fact]
    public void Too_many_notes_stop_at_the_limit()
    {
        // A segment of empty notes (12 bytes each), one more than the limit.
        int count = ElfCoreFile.MaxNotes + 1;
        var builder = new ElfCoreBuilder();
        builder.Note("CORE", 1, ElfCoreBuilder.PrStatus(1, 0, ElfCoreBuilder.X64Registers(1, 2)));
        var built = builder.Build();
        var bytes = new byte[built.Bytes.Length + count * 12];
        built.Bytes.CopyTo(bytes, 0);
        ElfCoreBuilder.U64(bytes, built.ProgramHeaderOffset + 32, (ulong)(built.NoteSegmentSize + count * 12));
        using var core = Open(bytes);
        Assert.Contains("TooManyNotes", Ids(core));
        Assert.Equal(ElfCoreFile.MaxNotes, core.Notes.Count);
    }

    [Fact]
    public void Random_damage_never_throws_or_hangs()
    {
        var built = ElfCoreBuilder.Typical().Build();
        int region = built.NoteSegmentOffset + built.NoteSegmentSize;
        var random = new Random(7);
        for (int i = 0; i < 800; i++)
        {
            var bytes = (byte[])built.Bytes.Clone();
            int flips = random.Next(1, 9);
            for (int f = 0; f < flips; f++)
            {
                int at = random.Next(0, region);
                bytes[at] = random.Next(3) switch { 0 => 0xFF, 1 => 0, _ => (byte)random.Next(256) };
            }
            var problems = ElfTouch.OpenAndTouchAll(Write(bytes, $"fuzz{i}"), TimeSpan.FromSeconds(5));
            Assert.All(problems, p => Assert.False(string.IsNullOrWhiteSpace(p.Message)));
        }
    }

    private static byte[] Patched(byte[] bytes, Action<byte[]> patch)
    {
        var copy = (byte[])bytes.Clone();
        patch(copy);
        return copy;
    }
}
