using System.Buffers.Binary;
using System.Text;
using DumpShell.Format;
using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Tests.Synth;
using Xunit;
using SynthFixedFileInfo = DumpShell.Tests.Synth.FixedFileInfo;
using SynthStream = DumpShell.Tests.Synth.StreamType;

namespace DumpShell.Tests.Engine;

/// <summary>
/// Writes synthetic dumps into a fresh temporary folder and opens them; disposing closes every dump
/// and deletes the folder.
/// </summary>
internal sealed class SynthDumpFiles : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("dumpshell-synth-");
    private readonly List<IDisposable> _open = [];
    private int _next;

    public string Folder => _folder.FullName;

    public string NewPath(string stem = "synth") =>
        Path.Combine(_folder.FullName, $"{stem}-{Interlocked.Increment(ref _next)}.dmp");

    public string Write(MinidumpBuilder builder)
    {
        string path = NewPath();
        builder.WriteTo(path);
        return path;
    }

    public string Write(ReadOnlySpan<byte> bytes)
    {
        string path = NewPath();
        File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }

    public Dump Open(MinidumpBuilder builder) => Track(Dump.Open(Write(builder)));

    public Dump Open(string path) => Track(Dump.Open(path));

    private Dump Track(Dump dump)
    {
        lock (_open) _open.Add(dump);
        return dump;
    }

    /// <summary>A builder with the header time set and a SystemInfo stream for <paramref name="architecture"/>.</summary>
    public static MinidumpBuilder NewBuilder(ushort architecture = Synth.ProcessorArchitecture.Amd64,
        uint platformId = WinConst.PlatformWin32Nt, uint timeDateStamp = SyntheticDumpTests.DumpUnixTime)
    {
        var b = new MinidumpBuilder { TimeDateStamp = timeDateStamp, Flags = WinConst.MiniDumpWithThreadInfo };
        b.AddSystemInfo(new SystemInfoSpec { ProcessorArchitecture = architecture, PlatformId = platformId, CsdVersion = "Service Pack 0" });
        return b;
    }

    /// <summary>Deterministic, position-dependent bytes (never all equal), so a wrong offset shows.</summary>
    public static byte[] Pattern(int length, byte seed)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)(seed + i * 7 + (i >> 8));
        return bytes;
    }

    public static byte[] Filled(int length, byte value) => Enumerable.Repeat(value, length).ToArray();

    public void Dispose()
    {
        lock (_open)
        {
            foreach (var d in _open) d.Dispose();
            _open.Clear();
        }
        try { _folder.Delete(recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// Edge cases of well-formed dumps, made with <see cref="MinidumpBuilder"/>: what the builder writes must
/// come back out of <see cref="MinidumpFile"/> and <see cref="Dump"/>, and no problem may be reported.
/// </summary>
public sealed class SyntheticDumpTests : IDisposable
{
    /// <summary>2023-11-14 22:13:20 UTC, the header TimeDateStamp of every dump here.</summary>
    public const uint DumpUnixTime = 1_700_000_000;
    private const ulong FileTimeUnixEpoch = 116_444_736_000_000_000;
    private const long TicksPerSecond = TimeSpan.TicksPerSecond;

    private readonly SynthDumpFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>The FILETIME of <paramref name="unixSeconds"/> less <paramref name="earlierTicks"/>.</summary>
    private static ulong FileTimeOfUnix(uint unixSeconds, long earlierTicks = 0) =>
        FileTimeUnixEpoch + (ulong)unixSeconds * (ulong)TicksPerSecond - (ulong)earlierTicks;

    private static void AssertNoProblems(Dump dump) =>
        Assert.True(dump.Problems.Count == 0, "Unexpected problems: " + string.Join("; ", dump.Problems.Select(p => $"{p.ErrorId}: {p.Message}")));

    // ------------------------------------------------------------------------------------------ threads

    private static (ThreadSpec Spec, byte[] StackBytes, Amd64Context Context) X64Thread(MinidumpBuilder b, uint tid, ulong stackBase)
    {
        var bytes = SynthDumpFiles.Pattern(0x200, (byte)tid);
        var stack = b.AddMemory(stackBase, bytes);
        var context = new Amd64Context { Rip = 0x7FF6_0000_1000ul + tid, Rsp = stackBase + 0x40, Rbp = stackBase + 0x100, Rax = tid, R15 = ~(ulong)tid };
        return (new ThreadSpec
        {
            ThreadId = tid, SuspendCount = tid % 3, PriorityClass = 0x20, Priority = tid % 5, Teb = 0x7FF_FFFE_0000ul + tid * 0x2000ul,
            Stack = stack, Context = context.ToSection(),
        }, bytes, context);
    }

    private static void AssertThreadsRoundTrip(Dump dump, IReadOnlyList<(ThreadSpec Spec, byte[] StackBytes, Amd64Context Context)> expected)
    {
        var records = dump.File!.Threads;
        Assert.Equal(expected.Count, records.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var (spec, stackBytes, context) = expected[i];
            var r = records[i];
            Assert.Equal(i, r.Index);
            Assert.Equal(spec.ThreadId, r.ThreadId);
            Assert.Equal(spec.SuspendCount, r.SuspendCount);
            Assert.Equal(spec.PriorityClass, r.PriorityClass);
            Assert.Equal(spec.Priority, r.Priority);
            Assert.Equal(spec.Teb, r.Teb);
            Assert.Equal(spec.Stack!.Address, r.Stack.StartOfMemoryRange);
            Assert.Equal((ulong)stackBytes.Length, r.Stack.DataSize);
            Assert.Equal(spec.Stack.Data.Start.Value, r.Stack.Rva);
            Assert.Equal((uint)spec.Context!.FinalSize.Value, r.ContextSize);
            Assert.Equal(spec.Context.Start.Value, (ulong)r.ContextRva);

            var t = dump.Threads[i];
            Assert.Equal(spec.ThreadId, t.Id);
            Assert.Equal(context.Rip, t.InstructionPointer);
            Assert.Equal(context.Rsp, t.StackPointer);
            Assert.Equal(context.Rbp, t.FramePointer);
            Assert.Equal(context.Rax, t.Registers["rax"]);
            Assert.Equal(context.R15, t.Registers["r15"]);
            // No TEB in memory: the bounds come from the captured stack.
            Assert.Equal("StackMemory", t.StackBoundsSource);
            Assert.Equal(spec.Stack.Address, t.StackLimit);
            Assert.Equal(spec.Stack.Address + (ulong)stackBytes.Length, t.StackBase);

            var read = new byte[stackBytes.Length];
            Assert.Equal(read.Length, dump.Memory.Read(spec.Stack.Address, read));
            Assert.Equal(stackBytes, read);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void ThreadList_without_padding(int count)
    {
        var b = SynthDumpFiles.NewBuilder();
        var threads = Enumerable.Range(0, count).Select(i => X64Thread(b, (uint)(0x100 + i), 0x10_0000 + (ulong)i * 0x1_0000)).ToList();
        var list = b.AddThreadList(threads.Select(t => t.Spec), null);
        b.AddMemoryListOfAllBlocks();
        using var dump = _files.Open(b);

        Assert.Equal(4 + 48 * count, (int)list.FinalSize.Value);
        AssertThreadsRoundTrip(dump, threads);
        AssertNoProblems(dump);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void ThreadList_with_padding_after_the_count(int count)
    {
        var b = SynthDumpFiles.NewBuilder();
        var threads = Enumerable.Range(0, count).Select(i => X64Thread(b, (uint)(0x200 + i), 0x20_0000 + (ulong)i * 0x1_0000)).ToList();
        // Some writers pad MINIDUMP_THREAD_LIST's count to 8 bytes: stream size 8 + n * 48.
        var list = new Section("padded-thread-list").U32((uint)count).U32(0);
        foreach (var (t, _, _) in threads)
        {
            b.Add(t.Context!);
            list.U32(t.ThreadId).U32(t.SuspendCount).U32(t.PriorityClass).U32(t.Priority).U64(t.Teb)
                .MemoryDescriptor(t.Stack).LocationDescriptor(t.Context!);
        }
        b.AddStream(SynthStream.ThreadList, list);
        b.AddMemoryListOfAllBlocks();
        using var dump = _files.Open(b);

        Assert.Equal(8 + 48 * count, (int)list.FinalSize.Value);
        AssertThreadsRoundTrip(dump, threads);
        AssertNoProblems(dump);
    }

    [Fact]
    public void ThreadExList_only()
    {
        var b = SynthDumpFiles.NewBuilder();
        var threads = Enumerable.Range(0, 2).Select(i => X64Thread(b, (uint)(0x300 + i), 0x30_0000 + (ulong)i * 0x1_0000)).ToList();
        var backing = b.AddMemory(0x40_0000, SynthDumpFiles.Pattern(0x80, 0x44));
        threads[1].Spec.BackingStore = backing;
        b.AddThreadExList(threads.Select(t => t.Spec));
        b.AddMemoryListOfAllBlocks();
        using var dump = _files.Open(b);

        Assert.Null(dump.File!.FindStream(MinidumpStreamType.ThreadList));
        AssertThreadsRoundTrip(dump, threads);
        Assert.Equal(new MemoryDescriptor(0, 0, 0), dump.File!.Threads[0].BackingStore);
        Assert.Equal(new MemoryDescriptor(backing.Address, 0x80, backing.Data.Start.Value), dump.File!.Threads[1].BackingStore);
        AssertNoProblems(dump);
    }

    [Fact]
    public void ThreadList_is_preferred_over_ThreadExList()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadExList([new ThreadSpec { ThreadId = 0xE1 }, new ThreadSpec { ThreadId = 0xE2 }]);
        b.AddThreadList(new ThreadSpec { ThreadId = 0xA1 });
        using var dump = _files.Open(b);
        Assert.Equal([0xA1u], dump.Threads.Select(t => t.Id));
    }

    // ------------------------------------------------------------------------------------------ modules

    [Fact]
    public void ModuleList_with_RSDS_and_NB10_CodeView_and_version_info()
    {
        var guid = new Guid("1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0");
        var b = SynthDumpFiles.NewBuilder();
        var version = new SynthFixedFileInfo
        {
            FileVersionMS = (10u << 16) | 0, FileVersionLS = (19041u << 16) | 3636,
            ProductVersionMS = (10u << 16) | 1, ProductVersionLS = (19041u << 16) | 1,
            FileFlags = 0x2, FileType = 0x1, FileSubtype = 0x7, FileDateMS = 0x01D9_0000, FileDateLS = 0x1234_5678,
        };
        b.AddModuleList(
            new ModuleSpec
            {
                BaseOfImage = 0x7FF6_1000_0000, SizeOfImage = 0x5_0000, CheckSum = 0xABCDE, TimeDateStamp = 0x6543_2100,
                Name = @"C:\Program Files\App\app.exe", VersionInfo = version,
                CvRecord = CodeView.Rsds(guid, 7, @"D:\build\app.pdb"),
            },
            new ModuleSpec
            {
                BaseOfImage = 0x7FFD_2000_0000, SizeOfImage = 0x1_2000, TimeDateStamp = 0x3000_0000,
                Name = @"C:\Windows\System32\legacy.dll", VersionInfo = SynthFixedFileInfo.FromVersion(5, 1, 2600, 5512),
                CvRecord = CodeView.Nb10(0x3A1B_2C3D, 2, "legacy.pdb"),
            },
            new ModuleSpec { BaseOfImage = 0x7FFD_3000_0000, SizeOfImage = 0x1000, Name = "noversion.dll" });
        using var dump = _files.Open(b);

        var records = dump.File!.Modules;
        Assert.Equal(3, records.Count);
        var app = records[0];
        Assert.Equal(0x7FF6_1000_0000ul, app.BaseOfImage);
        Assert.Equal(0x5_0000u, app.SizeOfImage);
        Assert.Equal(0xABCDEu, app.CheckSum);
        Assert.Equal(0x6543_2100u, app.TimeDateStamp);
        Assert.Equal(@"C:\Program Files\App\app.exe", app.Name);
        Assert.NotNull(app.Version);
        Assert.Equal(new Version(10, 0, 19041, 3636), app.Version!.FileVersion);
        Assert.Equal(new Version(10, 1, 19041, 1), app.Version.ProductVersion);
        Assert.Equal(0x2u, app.Version.FileFlags);
        Assert.Equal(0x3Fu, app.Version.FileFlagsMask);
        Assert.Equal(0x00040004u, app.Version.FileOS);
        Assert.Equal(0x1u, app.Version.FileType);
        Assert.Equal(0x7u, app.Version.FileSubtype);
        Assert.Equal(0x01D9_0000_1234_5678ul, app.Version.FileDate);
        Assert.Equal(new CodeViewRecord("RSDS", @"D:\build\app.pdb", guid, null, 7, null), app.CodeView);

        var legacy = records[1];
        Assert.Equal(new Version(5, 1, 2600, 5512), legacy.Version!.FileVersion);
        Assert.Equal("NB10", legacy.CodeView!.Format);
        Assert.Equal("legacy.pdb", legacy.CodeView.PdbName);
        Assert.Equal(0x3A1B_2C3Du, legacy.CodeView.Signature);
        Assert.Equal(2u, legacy.CodeView.Age);
        Assert.Null(legacy.CodeView.Guid);

        Assert.Null(records[2].Version);
        Assert.Null(records[2].CodeView);

        var m = dump.Modules;
        Assert.Equal(["app.exe", "legacy.dll", "noversion.dll"], m.Select(x => x.Name));
        Assert.Equal(@"C:\Program Files\App\app.exe", m[0].Path);
        Assert.Equal(new Version(10, 0, 19041, 3636), m[0].FileVersion);
        Assert.Equal(new Version(10, 1, 19041, 1), m[0].ProductVersion);
        Assert.Equal(@"D:\build\app.pdb", m[0].PdbName);
        Assert.Equal(guid, m[0].PdbGuid);
        Assert.Equal(7u, m[0].PdbAge);
        Assert.Equal("RSDS", m[0].CodeViewFormat);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(0x6543_2100), m[0].Timestamp);
        Assert.Equal(0x7FF6_1005_0000ul, m[0].EndAddress);
        Assert.Equal("NB10", m[1].CodeViewFormat);
        Assert.Null(m[1].PdbGuid);
        Assert.Equal(2u, m[1].PdbAge);
        Assert.Null(m[2].FileVersion);
        Assert.Null(m[2].CodeViewFormat);
        Assert.Null(m[2].PdbAge);

        Assert.Equal("app.exe+0x1234", dump.Describe(0x7FF6_1000_1234));
        Assert.Equal("legacy.dll", dump.ModuleAt(0x7FFD_2001_1FFF)?.Name);
        Assert.Null(dump.ModuleAt(0x7FFD_2001_2000));
        Assert.Equal("app.exe", dump.GetInfo().ImageName);
        AssertNoProblems(dump);
    }

    [Fact]
    public void UnloadedModuleList_round_trips()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddUnloadedModuleList(
        [
            new UnloadedModuleSpec { BaseOfImage = 0x7FFA_0000_0000, SizeOfImage = 0x3_0000, CheckSum = 0x1111, TimeDateStamp = 0x5000_0000, Name = @"C:\Temp\plugin.dll" },
            new UnloadedModuleSpec { BaseOfImage = 0x7FFB_0000_0000, SizeOfImage = 0x1000, TimeDateStamp = 0 },
        ]);
        using var dump = _files.Open(b);

        var records = dump.File!.UnloadedModules;
        Assert.Equal(
        [
            new UnloadedModuleRecord(0x7FFA_0000_0000, 0x3_0000, 0x1111, 0x5000_0000, @"C:\Temp\plugin.dll"),
            new UnloadedModuleRecord(0x7FFB_0000_0000, 0x1000, 0, 0, null),
        ], records);
        var unloaded = dump.UnloadedModules;
        Assert.All(unloaded, m => Assert.True(m.IsUnloaded));
        Assert.Equal("plugin.dll", unloaded[0].Name);
        Assert.Equal(@"C:\Temp\plugin.dll", unloaded[0].Path);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(0x5000_0000), unloaded[0].Timestamp);
        Assert.Equal("unloaded_7ffb00000000", unloaded[1].Name);
        Assert.Null(unloaded[1].Timestamp);
        Assert.Empty(dump.Modules);
        Assert.Equal(2, dump.GetInfo().UnloadedModuleCount);
        AssertNoProblems(dump);
    }

    // ------------------------------------------------------------------------------------------ memory

    private static byte[] Read(MemoryReader memory, ulong address, int length, out int read)
    {
        var buffer = new byte[length];
        read = memory.Read(address, buffer);
        return buffer;
    }

    [Fact]
    public void MemoryList_unsorted_ranges_read_across_adjacent_ranges()
    {
        var b = SynthDumpFiles.NewBuilder();
        var c = new MemoryBlock(0x3000, SynthDumpFiles.Pattern(0x1000, 3));
        var a = new MemoryBlock(0x1000, SynthDumpFiles.Pattern(0x1000, 1));
        var bb = new MemoryBlock(0x2000, SynthDumpFiles.Pattern(0x1000, 2));
        b.AddMemoryList(c, a, bb);
        using var dump = _files.Open(b);

        // In stream order, with the file offset of each range's bytes.
        Assert.Equal(
        [
            new MemoryDescriptor(0x3000, 0x1000, c.Data.Start.Value),
            new MemoryDescriptor(0x1000, 0x1000, a.Data.Start.Value),
            new MemoryDescriptor(0x2000, 0x1000, bb.Data.Start.Value),
        ], dump.File!.MemoryRanges);
        var memory = dump.Memory;
        Assert.Equal(3, memory.RangeCount);
        Assert.Equal(0x3000ul, memory.TotalBytes);
        Assert.Equal([(0x1000ul, 0x1000ul), (0x2000ul, 0x1000ul), (0x3000ul, 0x1000ul)], memory.Ranges);

        var whole = Read(memory, 0x1000, 0x3000, out int read);
        Assert.Equal(0x3000, read);
        Assert.Equal(SynthDumpFiles.Pattern(0x1000, 1).Concat(SynthDumpFiles.Pattern(0x1000, 2)).Concat(SynthDumpFiles.Pattern(0x1000, 3)), whole);

        // A read straddling two adjacent ranges.
        var straddle = Read(memory, 0x2FF8, 16, out read);
        Assert.Equal(16, read);
        Assert.Equal(SynthDumpFiles.Pattern(0x1000, 2)[^8..].Concat(SynthDumpFiles.Pattern(0x1000, 3)[..8]), straddle);
        Assert.True(memory.TryReadUInt64(0x2FFC, out ulong value));
        Assert.Equal(BinaryPrimitives.ReadUInt64LittleEndian(straddle.AsSpan(4)), value);
        AssertNoProblems(dump);
    }

    [Fact]
    public void Partial_read_returns_the_bytes_that_are_there()
    {
        var b = SynthDumpFiles.NewBuilder();
        var low = new MemoryBlock(0x1000, SynthDumpFiles.Pattern(0x100, 9));
        var high = new MemoryBlock(0x1200, SynthDumpFiles.Pattern(0x100, 10));
        b.AddMemoryList(low, high);
        using var dump = _files.Open(b);
        var memory = dump.Memory;

        var buffer = Read(memory, 0x1080, 0x200, out int read);
        Assert.Equal(0x80, read);
        Assert.Equal(SynthDumpFiles.Pattern(0x100, 9)[0x80..], buffer[..0x80]);
        // A gap stops the read even though more memory follows it.
        Read(memory, 0x10F0, 0x200, out read);
        Assert.Equal(0x10, read);
        Read(memory, 0x1100, 8, out read);
        Assert.Equal(0, read);
        Read(memory, 0x0FFF, 8, out read);
        Assert.Equal(0, read);
        Read(memory, 0x12F8, 64, out read);
        Assert.Equal(8, read);
        Assert.False(memory.TryReadUInt64(0x12FC, out _));
        Assert.True(memory.TryReadUInt32(0x12FC, out _));

        // The model shows what is missing as null / "??".
        var rows = dump.ReadMemoryRows(0x10F8, 4, MemoryFormat.DWord).ToArray();
        Assert.Single(rows);
        Assert.NotNull(rows[0].Values[0]);
        Assert.NotNull(rows[0].Values[1]);
        Assert.Null(rows[0].Values[2]);
        Assert.EndsWith("???????? ????????", rows[0].Hex);
        AssertNoProblems(dump);
    }

    [Fact]
    public void MemoryList_duplicate_ranges_keep_the_first_listed_bytes()
    {
        var b = SynthDumpFiles.NewBuilder();
        var first = new MemoryBlock(0x5000, SynthDumpFiles.Filled(0x100, 0xAA));
        var second = new MemoryBlock(0x5000, SynthDumpFiles.Filled(0x100, 0xBB));
        b.AddMemoryList(first, second);
        using var dump = _files.Open(b);

        Assert.Equal(2, dump.File!.MemoryRanges.Count);
        Assert.Equal(1, dump.Memory.RangeCount);
        Assert.Equal(0x100ul, dump.Memory.TotalBytes);
        Assert.Equal(SynthDumpFiles.Filled(0x100, 0xAA), Read(dump.Memory, 0x5000, 0x100, out int read));
        Assert.Equal(0x100, read);
        AssertNoProblems(dump);
    }

    /// <summary>
    /// MemoryReader documents: "where ranges overlap, the earlier-listed one's bytes are kept". Each case lists
    /// two ranges (first, second) filled with 0xAA and 0xBB and gives the expected owner of each 0x100-byte
    /// slice from 0x1000 to 0x1800 ('A', 'B' or '-' for none).
    /// </summary>
    [Theory]
    // The first-listed range starts lower and runs into the second.
    [InlineData(0x1000, 0x400, 0x1200, 0x400, "AAAABB--")]
    // The first-listed range starts higher; the second runs into it from below.
    [InlineData(0x1200, 0x400, 0x1000, 0x400, "BBAAAA--")]
    // The first-listed range contains the second.
    [InlineData(0x1000, 0x800, 0x1200, 0x200, "AAAAAAAA")]
    // The second-listed range contains the first.
    [InlineData(0x1200, 0x200, 0x1000, 0x800, "BBAABBBB")]
    // Same start, the first is shorter.
    [InlineData(0x1000, 0x200, 0x1000, 0x600, "AABBBB--")]
    public void MemoryList_overlapping_ranges_keep_the_first_listed_bytes(int firstStart, int firstSize, int secondStart, int secondSize, string owners)
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemoryList(
            new MemoryBlock((ulong)firstStart, SynthDumpFiles.Filled(firstSize, 0xAA)),
            new MemoryBlock((ulong)secondStart, SynthDumpFiles.Filled(secondSize, 0xBB)));
        using var dump = _files.Open(b);
        var memory = dump.Memory;

        var actual = new StringBuilder();
        for (int i = 0; i < owners.Length; i++)
        {
            var slice = Read(memory, 0x1000 + (ulong)i * 0x100, 0x100, out int read);
            actual.Append(read == 0 ? '-' : slice.All(x => x == 0xAA) && read == 0x100 ? 'A' : slice.All(x => x == 0xBB) && read == 0x100 ? 'B' : '?');
        }
        Assert.Equal(owners, actual.ToString());
        ulong union = (ulong)owners.Count(ch => ch != '-') * 0x100;
        Assert.Equal(union, memory.TotalBytes);
        Assert.Equal(union, (ulong)memory.Ranges.Sum(r => (long)r.Size));
        // The whole covered span reads in one go.
        Read(memory, 0x1000, (int)union, out int all);
        Assert.Equal((int)union, all);
        AssertNoProblems(dump);
    }

    /// <summary>Random overlapping lists against the naive rule: each byte comes from the first-listed range holding it.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void MemoryList_random_overlaps_match_the_first_listed_rule(int seed)
    {
        const int span = 0x1000;
        var random = new Random(seed);
        var blocks = new List<MemoryBlock>();
        for (int i = 0; i < 40; i++)
        {
            int start = random.Next(span - 16), size = random.Next(1, Math.Min(0x200, span - start));
            blocks.Add(new MemoryBlock(0x10_0000 + (ulong)start, SynthDumpFiles.Filled(size, (byte)(i + 1))));
        }
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemoryList(blocks);
        using var dump = _files.Open(b);
        var memory = dump.Memory;

        var expected = new int[span]; // 0: not captured
        for (int a = 0; a < span; a++)
            expected[a] = blocks.FindIndex(x => 0x10_0000 + (ulong)a >= x.Address && 0x10_0000 + (ulong)a < x.Address + (ulong)x.Size) + 1;
        var all = new byte[span];
        for (int a = 0; a < span; a++)
        {
            int read = memory.Read(0x10_0000 + (ulong)a, all.AsSpan(0, span - a));
            int run = 0;
            while (a + run < span && expected[a + run] != 0) run++;
            Assert.Equal(run, read);
            for (int i = 0; i < read; i++)
                Assert.True(expected[a + i] == all[i], $"seed {seed}: byte at +0x{a + i:X} is from range {all[i] - 1}, expected range {expected[a + i] - 1}");
        }
        Assert.Equal((ulong)expected.Count(x => x != 0), memory.TotalBytes);
        var ranges = memory.Ranges.ToArray();
        for (int i = 1; i < ranges.Length; i++) Assert.True(ranges[i - 1].Start + ranges[i - 1].Size <= ranges[i].Start, "ranges overlap or are unsorted");
    }

    [Fact]
    public void Memory64List_ranges_are_consecutive_in_the_data_block()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemory64(0x7000, SynthDumpFiles.Pattern(0x300, 1));
        b.AddMemory64(0x7300, SynthDumpFiles.Pattern(0x100, 2)); // adjacent to the first
        b.AddMemory64(0x2_0000_0000, SynthDumpFiles.Pattern(0x40, 3));
        b.SparseMemory(0x3_0000_0000, 0x10_0000);
        var list = b.AddMemory64List();
        using var dump = _files.Open(b);

        ulong baseRva = b.Memory64BaseRva.Value;
        Assert.Equal(
        [
            new MemoryDescriptor(0x7000, 0x300, baseRva),
            new MemoryDescriptor(0x7300, 0x100, baseRva + 0x300),
            new MemoryDescriptor(0x2_0000_0000, 0x40, baseRva + 0x400),
            new MemoryDescriptor(0x3_0000_0000, 0x10_0000, baseRva + 0x440),
        ], dump.File!.MemoryRanges);
        Assert.Equal(16 + 4 * 16, (int)list.FinalSize.Value);
        var memory = dump.Memory;
        Assert.Equal(0x300ul + 0x100 + 0x40 + 0x10_0000, memory.TotalBytes);
        var across = Read(memory, 0x72F0, 0x20, out int read);
        Assert.Equal(0x20, read);
        Assert.Equal(SynthDumpFiles.Pattern(0x300, 1)[^0x10..].Concat(SynthDumpFiles.Pattern(0x100, 2)[..0x10]), across);
        Assert.Equal(SynthDumpFiles.Pattern(0x40, 3), Read(memory, 0x2_0000_0000, 0x40, out read));
        Assert.True(memory.TryReadUInt64(0x3_0000_0000 + 0xF_FFF8, out ulong zero));
        Assert.Equal(0ul, zero);
        Assert.Equal(0x10_0440ul, dump.GetInfo().MemoryBytes);
        AssertNoProblems(dump);
    }

    [Fact]
    public void MemoryList_and_Memory64List_together()
    {
        var b = SynthDumpFiles.NewBuilder();
        var small = b.AddMemory(0x1000, SynthDumpFiles.Pattern(0x80, 5));
        b.AddMemoryList(small);
        b.AddMemory64(0x1080, SynthDumpFiles.Pattern(0x80, 6));
        using var dump = _files.Open(b);
        Assert.Equal(2, dump.File!.MemoryRanges.Count);
        Assert.Equal(SynthDumpFiles.Pattern(0x80, 5).Concat(SynthDumpFiles.Pattern(0x80, 6)), Read(dump.Memory, 0x1000, 0x100, out int read));
        Assert.Equal(0x100, read);
        AssertNoProblems(dump);
    }

    // ------------------------------------------------------------------------------------------ exception

    private static Section ExceptionRecord64(uint code, uint flags, ulong next, ulong address, params ulong[] parameters)
    {
        var s = new Section("exception-record64").U32(code).U32(flags).U64(next).U64(address).U32((uint)parameters.Length).U32(0);
        for (int i = 0; i < 15; i++) s.U64(i < parameters.Length ? parameters[i] : 0);
        return s;
    }

    private static Section ExceptionRecord32(uint code, uint flags, uint next, uint address, params uint[] parameters)
    {
        var s = new Section("exception-record32").U32(code).U32(flags).U32(next).U32(address).U32((uint)parameters.Length);
        for (int i = 0; i < 15; i++) s.U32(i < parameters.Length ? parameters[i] : 0);
        return s;
    }

    [Fact]
    public void Exception_x64_with_nested_record_in_memory()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddModuleList(new ModuleSpec { BaseOfImage = 0x7FF6_0000_0000, SizeOfImage = 0x10_0000, Name = @"C:\app\app.exe" });
        var nested = b.AddMemory(0x5000, ExceptionRecord64(WinConst.StatusAccessViolation, 0, 0, 0x7FF6_0000_2000, 1, 0xDEAD_BEEF));
        b.AddMemoryList(nested);
        var context = new Amd64Context { Rip = 0x7FF6_0000_1234, Rsp = 0x9_F000, Rbp = 0x9_F100, Rcx = 42 };
        b.AddThreadList(new ThreadSpec { ThreadId = 0x77, Context = Contexts.Amd64(1, 2, 3) }, new ThreadSpec { ThreadId = 0x88 });
        b.AddException(new ExceptionSpec
        {
            ThreadId = 0x77, ExceptionCode = WinConst.CppException, ExceptionFlags = WinConst.ExceptionNoncontinuable,
            ExceptionRecord = nested.Address, ExceptionAddress = 0x7FF6_0000_1234,
            Parameters = [0x1993_0520, 0x1_0000, 0x2_0000, 0x7FF6_0000_0000], Context = context.ToSection(),
        });
        using var dump = _files.Open(b);

        var stored = dump.File!.Exception!;
        Assert.Equal(0x77u, stored.ThreadId);
        Assert.Equal(WinConst.CppException, stored.ExceptionCode);
        Assert.Equal(0x5000ul, stored.NestedRecordAddress);
        Assert.Equal(4u, stored.NumberParameters);
        Assert.Equal([0x1993_0520ul, 0x1_0000, 0x2_0000, 0x7FF6_0000_0000], stored.Parameters);

        var e = dump.Exception!;
        Assert.Equal(0, e.Depth);
        Assert.True(e.IsNonContinuable);
        Assert.Equal(0x7FF6_0000_1234ul, e.Address);
        Assert.Equal("app.exe+0x1234", e.AddressSymbol);
        Assert.Equal("app.exe", e.Module);
        Assert.Equal(context.Rip, e.InstructionPointer);
        Assert.Equal(context.Rsp, e.StackPointer);
        Assert.Equal(context.Rbp, e.FramePointer);
        Assert.Equal(42ul, e.ContextRegisters!["rcx"]);
        Assert.Equal(0x5000ul, e.NestedRecordAddress);

        var inner = e.Nested!;
        Assert.Equal(1, inner.Depth);
        Assert.Equal(WinConst.StatusAccessViolation, inner.Code);
        Assert.Equal(0x7FF6_0000_2000ul, inner.Address);
        Assert.Equal([1ul, 0xDEAD_BEEF], inner.Parameters);
        Assert.Equal("Write", inner.AccessType);
        Assert.Equal(0xDEAD_BEEFul, inner.TargetAddress);
        Assert.Null(inner.Nested);
        Assert.Null(inner.ContextRegisters);

        Assert.True(dump.Threads.Single(t => t.Id == 0x77).IsExceptionThread);
        Assert.False(dump.Threads.Single(t => t.Id == 0x88).IsExceptionThread);
        Assert.Contains("0x77", dump.GetInfo().LastEvent);
        AssertNoProblems(dump);
    }

    [Fact]
    public void Exception_x86_with_nested_record_in_memory()
    {
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.X86);
        var nested = b.AddMemory(0x0060_0000, ExceptionRecord32(WinConst.StatusAccessViolation, 0, 0, 0x0040_1000, 0, 0x0000_0010));
        b.AddMemoryList(nested);
        b.AddException(new ExceptionSpec
        {
            ThreadId = 0x42, ExceptionCode = WinConst.StatusBreakpoint, ExceptionRecord = nested.Address, ExceptionAddress = 0x0040_2000,
            Context = Contexts.X86(0x0040_2000, 0x0019_FF00, 0x0019_FF40),
        });
        using var dump = _files.Open(b);

        Assert.Equal(CpuArchitecture.X86, dump.Architecture);
        Assert.Equal(4, dump.PointerSize);
        var e = dump.Exception!;
        Assert.Equal(WinConst.StatusBreakpoint, e.Code);
        Assert.Equal(0x0040_2000ul, e.InstructionPointer);
        Assert.Equal(0x0019_FF00ul, e.StackPointer);
        var inner = e.Nested!;
        Assert.Equal(WinConst.StatusAccessViolation, inner.Code);
        Assert.Equal(0x0040_1000ul, inner.Address);
        Assert.Equal([0ul, 0x10], inner.Parameters);
        Assert.Equal("Read", inner.AccessType);
        Assert.Equal(0x10ul, inner.TargetAddress);
        Assert.Null(inner.Nested);

        // .exr on the record directly.
        var exr = dump.ReadExceptionRecord(0x42, nested.Address)!;
        Assert.Equal(WinConst.StatusAccessViolation, exr.Code);
        Assert.Equal(0, exr.Depth);
        AssertNoProblems(dump);
    }

    [Fact]
    public async Task Exception_self_referencing_chain_terminates()
    {
        var b = SynthDumpFiles.NewBuilder();
        const ulong self = 0x5000;
        const ulong a = 0x6000, c = 0x6100;
        b.AddMemoryList(
            b.AddMemory(self, ExceptionRecord64(0xE000_0001, 0, self, 0x1111)),
            b.AddMemory(a, ExceptionRecord64(0xE000_0002, 0, c, 0x2222)),
            b.AddMemory(c, ExceptionRecord64(0xE000_0003, 0, a, 0x3333)));
        b.AddException(new ExceptionSpec { ThreadId = 1, ExceptionCode = 0xE000_0000, ExceptionRecord = self });
        using var dump = _files.Open(b);

        var task = Task.Run(() =>
        {
            var e = dump.Exception!;
            Assert.Equal(0xE000_0001u, e.Nested!.Code);
            Assert.Null(e.Nested.Nested);

            var loop = dump.ReadExceptionRecord(1, a)!;
            Assert.Equal(0xE000_0002u, loop.Code);
            Assert.Equal(0xE000_0003u, loop.Nested!.Code);
            Assert.Null(loop.Nested.Nested);

            var selfDirect = dump.ReadExceptionRecord(1, self)!;
            Assert.Null(selfDirect.Nested);
        });
        // The hang guard: a loop that never ends fails the test after 10 s instead of hanging the run.
        var finished = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.True(finished == task, "Following a cyclic exception chain did not finish.");
        await task; // the assertions' failures

    }

    [Fact]
    public void Exception_long_chain_is_cut_at_a_bounded_depth()
    {
        var b = SynthDumpFiles.NewBuilder();
        const int length = 40;
        var blocks = new List<MemoryBlock>();
        for (int i = 0; i < length; i++)
        {
            ulong at = 0x10_0000 + (ulong)i * 0x100;
            ulong next = i + 1 < length ? at + 0x100 : 0;
            blocks.Add(b.AddMemory(at, ExceptionRecord64(0xE000_0000 + (uint)i, 0, next, at)));
        }
        b.AddMemoryList(blocks);
        b.AddException(new ExceptionSpec { ThreadId = 1, ExceptionCode = 0xE0FF_FFFF, ExceptionRecord = blocks[0].Address });
        using var dump = _files.Open(b);

        int depth = 0;
        for (var x = dump.Exception; x is not null; x = x.Nested)
        {
            Assert.Equal(depth, x.Depth);
            depth++;
        }
        Assert.InRange(depth, 2, 10);
    }

    // ------------------------------------------------------------------------------------------ misc info

    private static MiscInfoSpec FullMiscInfo(int version)
    {
        var m = new MiscInfoSpec { Version = version, ProcessId = 4242, ProcessCreateTime = DumpUnixTime - 3600, ProcessUserTime = 5, ProcessKernelTime = 2 };
        if (version >= 2) { m.ProcessorMaxMhz = 3000; m.ProcessorCurrentMhz = 2500; m.ProcessorMhzLimit = 2900; }
        if (version >= 3)
        {
            m.ProcessIntegrityLevel = 0x2000; m.ProcessExecuteFlags = 0x4D; m.ProtectedProcess = 1; m.TimeZoneId = 2;
            m.TimeZone = new TimeZoneSpec { Bias = -60, StandardName = "W. Europe Standard Time", DaylightName = "W. Europe Daylight Time", DaylightBias = -60 };
        }
        if (version >= 4) { m.BuildString = "10.0.19041.1 (WinBuild.160101.0800)"; m.DbgBldStr = "dbgcore.amd64fre.vb_release.191206-1406"; }
        if (version >= 5) { m.ProcessCookie = 0xC00C_1E00; m.XStateContextSize = 0x340; m.XStateEnabledFeatures = 0x7; }
        return m;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void MiscInfo_fields_present_by_version(int version)
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMiscInfo(FullMiscInfo(version));
        using var dump = _files.Open(b);

        var m = dump.File!.MiscInfo!;
        Assert.Equal(version, m.Version);
        Assert.Equal((uint)MiscInfoSpec.SizeOf(version), m.SizeOfInfo);
        Assert.Equal(4242u, m.ProcessId);
        Assert.Equal(DumpUnixTime - 3600, m.ProcessCreateTime);
        Assert.Equal(5u, m.ProcessUserTime);
        Assert.Equal(2u, m.ProcessKernelTime);
        Assert.Equal(version >= 2 ? (uint?)3000u : null, m.ProcessorMaxMhz);
        Assert.Equal(version >= 2 ? (uint?)2500u : null, m.ProcessorCurrentMhz);
        Assert.Equal(version >= 2 ? (uint?)2900u : null, m.ProcessorMhzLimit);
        Assert.Equal(version >= 3 ? (uint?)0x2000u : null, m.ProcessIntegrityLevel);
        Assert.Equal(version >= 3 ? (uint?)0x4Du : null, m.ProcessExecuteFlags);
        Assert.Equal(version >= 3 ? (uint?)1u : null, m.ProtectedProcess);
        Assert.Equal(version >= 3 ? (uint?)2u : null, m.TimeZoneId);
        Assert.Equal(version >= 3 ? (int?)-60 : null, m.TimeZoneBias);
        Assert.Equal(version >= 3 ? "W. Europe Standard Time" : null, m.TimeZoneStandardName);
        Assert.Equal(version >= 3 ? "W. Europe Daylight Time" : null, m.TimeZoneDaylightName);
        Assert.Equal(version >= 4 ? "10.0.19041.1 (WinBuild.160101.0800)" : null, m.BuildString);
        Assert.Equal(version >= 4 ? "dbgcore.amd64fre.vb_release.191206-1406" : null, m.DebugBuildString);
        Assert.Equal(version >= 5 ? (uint?)0xC00C_1E00u : null, m.ProcessCookie);

        var info = dump.GetInfo();
        Assert.Equal(4242u, info.ProcessId);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(DumpUnixTime - 3600), info.ProcessCreateTime);
        Assert.Equal(TimeSpan.FromHours(1), info.ProcessUptime);
        Assert.Equal(TimeSpan.FromSeconds(5), info.ProcessUserTime);
        Assert.Equal(TimeSpan.FromSeconds(2), info.ProcessKernelTime);
        Assert.Equal(version >= 3 ? "Medium" : null, info.IntegrityLevel);
        Assert.Equal(version >= 3 ? "W. Europe Standard Time" : null, info.TimeZone);
        Assert.Equal(version >= 4 ? "10.0.19041.1 (WinBuild.160101.0800)" : null, info.BuildString);
        AssertNoProblems(dump);
    }

    [Fact]
    public void MiscInfo_fields_with_clear_flag_bits_are_absent()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMiscInfo(new MiscInfoSpec { Version = 5, ProcessId = 7 });
        using var dump = _files.Open(b);
        var m = dump.File!.MiscInfo!;
        Assert.Equal(5, m.Version);
        Assert.Equal(Synth.MiscInfoFlags.ProcessId, m.Flags1);
        Assert.Equal(7u, m.ProcessId);
        Assert.Null(m.ProcessCreateTime);
        Assert.Null(m.ProcessUserTime);
        Assert.Null(m.ProcessorMaxMhz);
        Assert.Null(m.ProcessIntegrityLevel);
        Assert.Null(m.TimeZoneStandardName);
        Assert.Null(m.BuildString);
        Assert.Null(m.ProcessCookie);
        Assert.Null(dump.GetInfo().ProcessCreateTime);
        AssertNoProblems(dump);
    }

    [Fact]
    public void MiscInfo_flag_bits_beyond_the_record_size_are_ignored()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMiscInfo(new MiscInfoSpec { Version = 1, ProcessId = 9, Flags1Override = 0x3FF });
        using var dump = _files.Open(b);
        var m = dump.File!.MiscInfo!;
        Assert.Equal(1, m.Version);
        Assert.Equal(9u, m.ProcessId);
        Assert.Equal(0u, m.ProcessCreateTime); // present (flag and size) but written as zero
        Assert.Null(m.ProcessorMaxMhz);
        Assert.Null(m.ProcessIntegrityLevel);
        Assert.Null(m.TimeZoneBias);
        Assert.Null(m.BuildString);
        Assert.Null(m.ProcessCookie);
        // A zero create time is "not known", not 1970.
        Assert.Null(dump.GetInfo().ProcessCreateTime);
    }

    // ------------------------------------------------------------------------------------------ thread info, names

    [Fact]
    public void ThreadInfoList_times_and_the_spiking_rule()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(
            new ThreadSpec { ThreadId = 0x10 }, new ThreadSpec { ThreadId = 0x20 }, new ThreadSpec { ThreadId = 0x30 },
            new ThreadSpec { ThreadId = 0x40 }, new ThreadSpec { ThreadId = 0x50 });
        b.AddThreadInfoList(
        [
            // 3 s of CPU over a 4 s life: 75 % of a CPU.
            new ThreadInfoSpec
            {
                ThreadId = 0x10, CreateTime = FileTimeOfUnix(DumpUnixTime - 4), UserTime = 2 * TicksPerSecond, KernelTime = 1 * TicksPerSecond,
                StartAddress = 0x7FF6_0000_1500, Affinity = 0xF, ExitStatus = 259, ExitTime = 0,
            },
            // 3 s over an hour: busy once, idle now.
            new ThreadInfoSpec { ThreadId = 0x20, CreateTime = FileTimeOfUnix(DumpUnixTime - 3600), UserTime = 3 * TicksPerSecond },
            // 0.5 s over 0.6 s: a big share, but too little CPU to matter.
            new ThreadInfoSpec { ThreadId = 0x30, CreateTime = FileTimeOfUnix(DumpUnixTime, 6_000_000), UserTime = TicksPerSecond / 2 },
            // The writer says the entry is not valid (MINIDUMP_THREAD_INFO_INVALID_INFO).
            new ThreadInfoSpec { ThreadId = 0x40, DumpFlags = 0x8, CreateTime = FileTimeOfUnix(DumpUnixTime - 4), UserTime = 4 * TicksPerSecond },
        ]);
        using var dump = _files.Open(b);

        var infos = dump.File!.ThreadInfos;
        Assert.Equal(4, infos.Count);
        Assert.Equal(new ThreadInfoRecord(0x10, 0, 0, 259, FileTimeOfUnix(DumpUnixTime - 4), 0, 1 * TicksPerSecond, 2 * TicksPerSecond, 0x7FF6_0000_1500, 0xF), infos[0]);

        var t = dump.Threads.ToDictionary(x => x.Id);
        var spinner = t[0x10];
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(DumpUnixTime - 4), spinner.CreateTime);
        Assert.Equal(TimeSpan.FromSeconds(4), spinner.Age);
        Assert.Equal(TimeSpan.FromSeconds(2), spinner.UserTime);
        Assert.Equal(TimeSpan.FromSeconds(1), spinner.KernelTime);
        Assert.Equal(TimeSpan.FromSeconds(3), spinner.TotalCpuTime);
        Assert.Equal(0x7FF6_0000_1500ul, spinner.StartAddress);
        Assert.Equal(0xFul, spinner.Affinity);
        Assert.Equal(259u, spinner.ExitStatus);
        Assert.True(spinner.Spiking);

        Assert.Equal(TimeSpan.FromHours(1), t[0x20].Age);
        Assert.Equal(TimeSpan.FromSeconds(3), t[0x20].TotalCpuTime);
        Assert.False(t[0x20].Spiking);

        Assert.Equal(TimeSpan.FromTicks(6_000_000), t[0x30].Age);
        Assert.Equal(TimeSpan.FromTicks(5_000_000), t[0x30].TotalCpuTime);
        Assert.False(t[0x30].Spiking);

        Assert.Null(t[0x40].TotalCpuTime);
        Assert.Null(t[0x40].CreateTime);
        Assert.Null(t[0x40].StartAddress);
        Assert.False(t[0x40].Spiking);

        Assert.Null(t[0x50].TotalCpuTime);
        Assert.Null(t[0x50].Age);
        Assert.False(t[0x50].Spiking);

        // The model's verdicts are the rule's.
        Assert.All(dump.Threads, x => Assert.Equal(SpikingRule.IsSpiking(x.TotalCpuTime, x.Age), x.Spiking));
        AssertNoProblems(dump);
    }

    [Fact]
    public void ThreadNames_name_the_threads()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(new ThreadSpec { ThreadId = 1 }, new ThreadSpec { ThreadId = 2 }, new ThreadSpec { ThreadId = 3 });
        b.AddThreadNames([(1, "main"), (3, "Wörker – ünïcode ✓"), (2, "")]);
        using var dump = _files.Open(b);

        Assert.Equal(new Dictionary<uint, string> { [1] = "main", [3] = "Wörker – ünïcode ✓" }, dump.File!.ThreadNames);
        Assert.Equal(["main", null, "Wörker – ünïcode ✓"], dump.Threads.Select(t => t.Name));
        AssertNoProblems(dump);
    }

    // ------------------------------------------------------------------------------------------ handles, comments

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void HandleData_descriptors(int descriptorVersion)
    {
        var b = SynthDumpFiles.NewBuilder();
        var objectInfo = new Section("object-info").U32(0).U32(1).U32(8).U64(0x1234);
        b.AddHandleData(
        [
            new HandleSpec { Handle = 0x4, TypeName = "Event", ObjectName = @"\BaseNamedObjects\Ready", Attributes = 2, GrantedAccess = 0x1F0003, HandleCount = 3, PointerCount = 65537, ObjectInfo = descriptorVersion == 2 ? objectInfo : null },
            new HandleSpec { Handle = 0x8, TypeName = "File", ObjectName = "", GrantedAccess = 0x12019F, HandleCount = 1, PointerCount = 32768 },
            new HandleSpec { Handle = 0xC, TypeName = "Event" },
            new HandleSpec { Handle = 0x10 },
        ], descriptorVersion);
        using var dump = _files.Open(b);

        var h = dump.File!.Handles!;
        Assert.Equal(4, h.Count);
        Assert.Equal(new HandleRecord(0x4, "Event", @"\BaseNamedObjects\Ready", 2, 0x1F0003, 3, 65537,
            descriptorVersion == 2 ? (uint)objectInfo.Start.Value : 0), h[0]);
        Assert.Equal(new HandleRecord(0x8, "File", "", 0, 0x12019F, 1, 32768, 0), h[1]);
        Assert.Equal(new HandleRecord(0x10, null, null, 0, 0, 0, 0, 0), h[3]);

        Assert.True(dump.HasHandleData);
        var handles = dump.Handles.ToArray();
        Assert.Equal([0x4ul, 0x8, 0xC, 0x10], handles.Select(x => x.Handle));
        Assert.Null(handles[1].ObjectName); // empty name shown as none
        Assert.Equal(@"\BaseNamedObjects\Ready", handles[0].ObjectName);
        Assert.Equal([("Event", 2), ("(unknown)", 1), ("File", 1)], dump.HandleSummary.Select(s => (s.Type, s.Count)));
        Assert.Equal(4, dump.GetInfo().HandleCount);
        AssertNoProblems(dump);
    }

    [Fact]
    public void No_HandleData_stream_is_not_an_empty_one()
    {
        var b = SynthDumpFiles.NewBuilder();
        using (var none = _files.Open(b))
        {
            Assert.False(none.HasHandleData);
            Assert.Null(none.GetInfo().HandleCount);
        }
        var b2 = SynthDumpFiles.NewBuilder();
        b2.AddHandleData([]);
        using var empty = _files.Open(b2);
        Assert.True(empty.HasHandleData);
        Assert.Equal(0, empty.GetInfo().HandleCount);
    }

    [Fact]
    public void Comments_A_and_W()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddCommentA("Crash in café module");
        b.AddCommentW("Grüße – ünïcode ✓ 日本語");
        b.AddCommentA("no terminator", nulTerminate: false);
        using var dump = _files.Open(b);

        Assert.Equal(["Crash in café module", "Grüße – ünïcode ✓ 日本語", "no terminator"], dump.File!.Comments);
        Assert.Equal(["Crash in café module", "Grüße – ünïcode ✓ 日本語", "no terminator"], dump.GetInfo().Comments);
        AssertNoProblems(dump);
    }

    // ------------------------------------------------------------------------------------------ system memory, VM counters

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SystemMemoryInfo_revisions(int revision)
    {
        var b = SynthDumpFiles.NewBuilder();
        var spec = new SystemMemoryInfoSpec
        {
            Revision = (ushort)revision, Flags = 0x3, PageSize = 0x1000, NumberOfPhysicalPages = 0x40_0000, AllocationGranularity = 0x1_0000,
            MinimumUserModeAddress = 0x1_0000, MaximumUserModeAddress = 0x7FFF_FFFE_FFFF, NumberOfProcessors = 12,
            FileCacheCurrentSize = 0x1111, FileCachePageFaultCount = 0x2222, FileCacheFlags = 0x3333,
            AvailablePages = 0x12_3456, CommittedPages = 0x23_4567, CommitLimit = 0x98_7654, PeakCommitment = 0x34_5678,
            SharedCommittedPages = 0x55, ContiguousPagesAllocated = 0x66,
        };
        var section = b.AddSystemMemoryInfo(spec);
        using var dump = _files.Open(b);

        Assert.Equal(revision == 1 ? SystemMemoryInfoSpec.SizeRevision1 : SystemMemoryInfoSpec.SizeRevision2, (int)section.FinalSize.Value);
        Assert.Equal(new SystemMemoryInfoRecord((ushort)revision, 0x3, 0x1000, 0x40_0000, 0x1_0000, 0x1_0000, 0x7FFF_FFFE_FFFF, 12,
            0x12_3456, 0x23_4567, 0x98_7654, 0x34_5678), dump.File!.SystemMemoryInfo);
        AssertNoProblems(dump);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ProcessVmCounters_revisions(int revision)
    {
        var b = SynthDumpFiles.NewBuilder();
        var spec = new VmCountersSpec
        {
            Revision = (ushort)revision, Flags = 0x1F, PageFaultCount = 0x1001,
            PeakWorkingSetSize = 0x2002, WorkingSetSize = 0x3003, QuotaPeakPagedPoolUsage = 0x4004, QuotaPagedPoolUsage = 0x5005,
            QuotaPeakNonPagedPoolUsage = 0x6006, QuotaNonPagedPoolUsage = 0x7007, PagefileUsage = 0x8008, PeakPagefileUsage = 0x9009,
            PrivateUsage = 0xA00A, PeakVirtualSize = 0xB00B, VirtualSize = 0xC00C, PrivateWorkingSetSize = 0xD00D, SharedCommitUsage = 0xE00E,
            JobSharedCommitUsage = 0xF00F,
        };
        var section = b.AddProcessVmCounters(spec);
        using var dump = _files.Open(b);

        Assert.Equal(revision == 1 ? VmCountersSpec.SizeRevision1 : VmCountersSpec.SizeRevision2, (int)section.FinalSize.Value);
        bool v2 = revision == 2;
        Assert.Equal(new ProcessVmCountersRecord((ushort)revision, v2 ? (ushort)0x1F : (ushort)0, 0x1001, 0x2002, 0x3003, 0x4004, 0x5005,
            0x6006, 0x7007, 0x8008, 0x9009, 0xA00A, v2 ? 0xB00B : null, v2 ? 0xC00C : null, v2 ? 0xD00D : null, v2 ? 0xE00E : null),
            dump.File!.ProcessVmCounters);
        AssertNoProblems(dump);
    }

    // ------------------------------------------------------------------------------------------ contexts

    [Fact]
    public void X64_context_registers_by_name()
    {
        var b = SynthDumpFiles.NewBuilder();
        var all = new Amd64Context
        {
            ContextFlags = ContextFlags.Amd64All,
            Rax = 0x1, Rcx = 0x2, Rdx = 0x3, Rbx = 0x4, Rsp = 0x5, Rbp = 0x6, Rsi = 0x7, Rdi = 0x8,
            R8 = 0x9, R9 = 0xA, R10 = 0xB, R11 = 0xC, R12 = 0xD, R13 = 0xE, R14 = 0xF, R15 = 0x10, Rip = 0x7FF6_0000_1000,
            EFlags = 0x246, SegCs = 0x33, SegSs = 0x2B, SegDs = 0x2B, SegEs = 0x2B, SegFs = 0x53, SegGs = 0x2B,
            Dr0 = 0xD0, Dr7 = 0xD7,
        };
        var controlOnly = new Amd64Context { ContextFlags = ContextFlags.Amd64Control, Rip = 0xAAAA, Rsp = 0xBBBB, Rax = 0xCCCC };
        b.AddThreadList(new ThreadSpec { ThreadId = 1, Context = all.ToSection() }, new ThreadSpec { ThreadId = 2, Context = controlOnly.ToSection() });
        using var dump = _files.Open(b);

        var r = dump.Threads[0].Registers;
        var expected = new Dictionary<string, ulong>
        {
            ["rax"] = 1, ["rcx"] = 2, ["rdx"] = 3, ["rbx"] = 4, ["rsp"] = 5, ["rbp"] = 6, ["rsi"] = 7, ["rdi"] = 8,
            ["r8"] = 9, ["r9"] = 0xA, ["r10"] = 0xB, ["r11"] = 0xC, ["r12"] = 0xD, ["r13"] = 0xE, ["r14"] = 0xF, ["r15"] = 0x10,
            ["rip"] = 0x7FF6_0000_1000, ["efl"] = 0x246, ["cs"] = 0x33, ["ss"] = 0x2B, ["ds"] = 0x2B, ["es"] = 0x2B, ["fs"] = 0x53, ["gs"] = 0x2B,
            ["dr0"] = 0xD0, ["dr7"] = 0xD7,
        };
        foreach (var (name, value) in expected) Assert.True(r.TryGetValue(name, out var v) && v == value, $"{name}: expected 0x{value:X}, got {(r.TryGetValue(name, out var g) ? $"0x{g:X}" : "nothing")}");
        Assert.Equal(0xD7ul, r["DR7"]); // names are case-insensitive
        Assert.Equal(CpuArchitecture.X64, dump.Threads[0].Architecture);

        var c = dump.Threads[1].Registers;
        Assert.Equal(0xAAAAul, c["rip"]);
        Assert.Equal(0xBBBBul, c["rsp"]);
        Assert.False(c.ContainsKey("rax")); // CONTEXT_INTEGER not set: not shown as zero
        Assert.False(c.ContainsKey("ds"));
        Assert.False(c.ContainsKey("dr0"));
        Assert.Null(dump.Threads[1].FramePointer);
        AssertNoProblems(dump);
    }

    [Fact]
    public void X86_context_registers_by_name()
    {
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.X86);
        var ctx = new X86Context
        {
            Eax = 0x11, Ebx = 0x22, Ecx = 0x33, Edx = 0x44, Esi = 0x55, Edi = 0x66, Ebp = 0x0019_FF40, Esp = 0x0019_FF00, Eip = 0x0040_1000,
            EFlags = 0x246, SegCs = 0x23, SegSs = 0x2B, SegDs = 0x2B, SegEs = 0x2B, SegFs = 0x53, SegGs = 0x2B, Dr0 = 0x99,
        };
        b.AddThreadList(new ThreadSpec { ThreadId = 7, Context = ctx.ToSection() });
        using var dump = _files.Open(b);

        var t = dump.Threads.Single();
        Assert.Equal(CpuArchitecture.X86, t.Architecture);
        Assert.Equal(0x0040_1000ul, t.InstructionPointer);
        Assert.Equal(0x0019_FF00ul, t.StackPointer);
        Assert.Equal(0x0019_FF40ul, t.FramePointer);
        var expected = new Dictionary<string, ulong>
        {
            ["eax"] = 0x11, ["ebx"] = 0x22, ["ecx"] = 0x33, ["edx"] = 0x44, ["esi"] = 0x55, ["edi"] = 0x66,
            ["ebp"] = 0x0019_FF40, ["esp"] = 0x0019_FF00, ["eip"] = 0x0040_1000, ["efl"] = 0x246,
            ["cs"] = 0x23, ["ss"] = 0x2B, ["ds"] = 0x2B, ["es"] = 0x2B, ["fs"] = 0x53, ["gs"] = 0x2B,
        };
        foreach (var (name, value) in expected) Assert.Equal(value, t.Registers[name]);
        Assert.False(t.Registers.ContainsKey("dr0")); // X86Full has no CONTEXT_DEBUG_REGISTERS
        AssertNoProblems(dump);
    }

    [Fact]
    public void Xstate_extended_x64_context_still_gives_rip_and_rsp()
    {
        var b = SynthDumpFiles.NewBuilder();
        const uint ContextXState = ContextFlags.Amd64 | 0x40;
        var baseContext = new Amd64Context { ContextFlags = ContextFlags.Amd64Full | ContextXState, Rip = 0x7FF6_1234_5678, Rsp = 0x00AF_F000, Rbp = 0x00AF_F080, Rax = 0x77 };
        // CONTEXT_EX after the CONTEXT ({All, Legacy, XState} as {Offset, Length}), then an XSAVE area with its header.
        const int xsaveSize = 0x340;
        var context = new Section("context-amd64-xstate").Bytes(baseContext.ToBytes())
            .I32(-Amd64Context.Size).U32(Amd64Context.Size + 24 + xsaveSize)
            .I32(-Amd64Context.Size).U32(Amd64Context.Size)
            .I32(24).U32(xsaveSize)
            .Bytes(SynthDumpFiles.Pattern(xsaveSize, 0x5A));
        b.AddThreadList(new ThreadSpec { ThreadId = 9, Context = context });
        using var dump = _files.Open(b);

        Assert.True(dump.File!.Threads[0].ContextSize > Amd64Context.Size);
        var t = dump.Threads.Single();
        Assert.Equal(0x7FF6_1234_5678ul, t.InstructionPointer);
        Assert.Equal(0x00AF_F000ul, t.StackPointer);
        Assert.Equal(0x00AF_F080ul, t.FramePointer);
        Assert.Equal(0x77ul, t.Registers["rax"]);
        var parsed = CpuContext.Parse(CpuArchitecture.X64, dump.File!.ThreadContextBytes(dump.File!.Threads[0]))!;
        Assert.Equal((int)context.FinalSize.Value, parsed.Size);
        AssertNoProblems(dump);
    }

    // ------------------------------------------------------------------------------------------ platforms

    [Fact]
    public void Linux_dump()
    {
        var b = new MinidumpBuilder { TimeDateStamp = DumpUnixTime };
        b.AddSystemInfo(new SystemInfoSpec
        {
            ProcessorArchitecture = Synth.ProcessorArchitecture.Amd64, PlatformId = 0x8201, MajorVersion = 0, MinorVersion = 0, BuildNumber = 0,
            CsdVersion = "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64",
        });
        byte[] buildId = [0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10];
        b.AddModuleList(new ModuleSpec
        {
            BaseOfImage = 0x5555_5555_4000, SizeOfImage = 0x2_0000, Name = "/usr/bin/crasher",
            CvRecord = new Section("cv-elf").U32(0x4270454C).Bytes(buildId), // "LEpB"
        });
        var context = new Amd64Context { ContextFlags = ContextFlags.Amd64Full, Rip = 0x5555_5555_5234, Rsp = 0x7FFF_FFFF_E000 };
        b.AddThreadList(new ThreadSpec { ThreadId = 31337, Context = context.ToSection() });
        b.AddException(new ExceptionSpec { ThreadId = 31337, ExceptionCode = 11, ExceptionAddress = 0x10, Context = context.ToSection() });
        b.AddStream(SynthStream.LinuxProcStatus, Encoding.ASCII.GetBytes("Name:\tcrasher\nUmask:\t0022\nState:\tR (running)\nPid:\t31337\nPPid:\t1\n"));
        b.AddStream(SynthStream.LinuxMaps, Encoding.ASCII.GetBytes("555555554000-555555574000 r-xp 00000000 08:01 42 /usr/bin/crasher\n"));
        using var dump = _files.Open(b);

        Assert.Equal("Linux", dump.Platform);
        Assert.Equal(CpuArchitecture.X64, dump.Architecture);
        var info = dump.GetInfo();
        Assert.Equal("Linux", info.Platform);
        Assert.Null(info.OSVersion);
        Assert.Equal("Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64", info.ServicePack);
        Assert.Equal(31337u, info.ProcessId);
        Assert.Equal("Breakpad", info.Writer);
        Assert.Equal("crasher", info.ImageName);

        var m = dump.Modules.Single();
        Assert.Equal("crasher", m.Name);
        Assert.Equal("ELF", m.CodeViewFormat);
        Assert.Equal(Convert.ToHexString(buildId), m.BuildId);
        Assert.Null(m.PdbAge);

        var e = dump.Exception!;
        Assert.Equal("SIGSEGV", e.CodeName);
        Assert.Equal(0x10ul, e.TargetAddress);
        Assert.Equal("crasher+0x1234", e.AddressSymbol);
        Assert.Equal(0x5555_5555_5234ul, e.InstructionPointer);
        Assert.True(dump.Threads.Single().IsExceptionThread);
        Assert.Equal("31337", dump.File!.ProcStatusValue("Pid"));
        AssertNoProblems(dump);
    }

    [Fact]
    public void Dump_without_SystemInfo()
    {
        var b = new MinidumpBuilder { TimeDateStamp = DumpUnixTime };
        var stack = b.AddMemory(0x9000, SynthDumpFiles.Pattern(0x100, 1));
        b.AddThreadList(new ThreadSpec { ThreadId = 5, Stack = stack, Context = Contexts.Amd64(0x1000, 0x9010, 0x9080) });
        b.AddModuleList(new ModuleSpec { BaseOfImage = 0x40_0000, SizeOfImage = 0x1000, Name = "a.exe" });
        b.AddMemoryListOfAllBlocks();
        b.AddException(new ExceptionSpec { ThreadId = 5, ExceptionCode = WinConst.StatusAccessViolation, Parameters = [0, 0x10] });
        using var dump = _files.Open(b);

        Assert.Null(dump.File!.SystemInfo);
        Assert.Equal(CpuArchitecture.Unknown, dump.Architecture);
        Assert.Equal("Unknown", dump.Platform);
        var info = dump.GetInfo();
        Assert.Equal("Unknown", info.Platform);
        Assert.Null(info.OSVersion);
        Assert.Null(info.Processor);
        Assert.Null(info.ProcessorCount);
        Assert.Equal(1, info.ThreadCount);
        var t = dump.Threads.Single();
        Assert.Equal(5u, t.Id);
        Assert.Empty(t.Registers); // no layout for an unknown CPU
        Assert.Null(t.InstructionPointer);
        Assert.Equal(0x9000ul, t.StackLimit);
        Assert.Equal("a.exe", dump.Modules.Single().Name);
        Assert.Equal(WinConst.StatusAccessViolation, dump.Exception!.Code);
        Assert.Equal(0x100, dump.ReadMemoryRows(0x9000, 0x100, MemoryFormat.Byte).Sum(r => r.Values.Count(v => v is not null)));
        EngineProbe.TouchEverything(dump);
        AssertNoProblems(dump);
    }

    [Fact]
    public void Header_fields_and_stream_directory()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.Flags = WinConst.MiniDumpWithFullMemory | WinConst.MiniDumpWithHandleData;
        b.CheckSum = 0xC0FFEE;
        b.AddCommentA("x");
        b.AddDirectoryEntry(SynthStream.Unused, 0, 0);
        b.AddStream(0x1234_5678, [1, 2, 3, 4]);
        using var dump = _files.Open(b);

        var f = dump.File!;
        Assert.Equal((ushort)0xA793, f.Version);
        Assert.Equal(0xC0FFEEu, f.CheckSum);
        Assert.Equal(DumpUnixTime, f.TimeDateStamp);
        Assert.Equal(b.Flags, f.Flags);
        Assert.Equal(4u, f.DeclaredStreamCount);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(DumpUnixTime), dump.DumpTime);
        var streams = dump.GetStreams().ToArray();
        Assert.Equal(["SystemInfo", "CommentA", "Unused", "0x12345678"], streams.Select(s => s.Name));
        Assert.Equal(["SystemInfo", "CommentA", "0x12345678"], dump.GetInfo().Streams);
        Assert.Equal([1, 2, 3, 4], f.StreamBytes(f.Directory[3]).ToArray());
        Assert.Contains("MiniDumpWithFullMemory", dump.GetInfo().DumpType);
        AssertNoProblems(dump);
    }
}
