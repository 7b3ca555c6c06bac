using System.Text;
using DumpShell.Format;
using DumpShell.Format.Minidump;
using DumpShell.Model;
using DumpShell.Tests.Synth;
using Xunit;
using SynthStream = DumpShell.Tests.Synth.StreamType;

namespace DumpShell.Tests.Engine;

/// <summary>
/// Hostile and broken dumps, made with <see cref="MinidumpBuilder"/>. A file that is no minidump at all gives a
/// <see cref="DumpFormatException"/> from <see cref="Dump.Open"/>; anything else opens, reports a
/// <see cref="DumpProblem"/> with a stable ErrorId, and returns what can still be read: no other exception, no
/// hang, and no allocation sized by a count the file declares.
/// </summary>
public sealed class MalformedDumpTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);
    /// <summary>Reading everything in a small hostile file allocates less than this.</summary>
    private const long SmallAllocation = 10L << 20;
    /// <summary>
    /// Parsing one list stream of a small file allocates less than this (about 1 KB in fact): an array sized by a
    /// declared count of 1,000,000 would take 8 MB or more.
    /// </summary>
    private const long ListAllocation = 1L << 20;

    // Field offsets inside records (minidumpapiset.h), used to aim a patch at one field of a stream the builder wrote.
    private const int ListCountSize = 4;             // MINIDUMP_THREAD_LIST / MODULE_LIST count
    private const int ThreadContextSizeField = 40;   // MINIDUMP_THREAD.ThreadContext.DataSize
    private const int ThreadContextRvaField = 44;    // MINIDUMP_THREAD.ThreadContext.Rva
    private const int ModuleNameRvaField = 20;       // MINIDUMP_MODULE.ModuleNameRva
    private const int ModuleCvSizeField = 76;        // MINIDUMP_MODULE.CvRecord.DataSize
    private const int ModuleCvRvaField = 80;         // MINIDUMP_MODULE.CvRecord.Rva
    private const int ThreadNameRvaField = 4;        // MINIDUMP_THREAD_NAME.RvaOfThreadName (RVA64)
    private const int ThreadNamesEntrySize = 12;
    private const int HandleHeaderSize = 16;
    private const int ExceptionContextRvaField = 164; // MINIDUMP_EXCEPTION_STREAM.ThreadContext.Rva
    private const int UnloadedHeaderSize = 12;
    private const int UnloadedNameRvaField = 20;      // MINIDUMP_UNLOADED_MODULE.ModuleNameRva
    private const int MemoryDescriptorRvaField = 12;  // MINIDUMP_MEMORY_DESCRIPTOR.Memory.Rva
    private const int HandleTypeNameRvaField = 8;
    private const int HandleObjectNameRvaField = 12;

    private readonly SynthDumpFiles _files = new();

    public void Dispose() => _files.Dispose();

    // ------------------------------------------------------------------------------------------ helpers

    /// <summary>Runs <paramref name="work"/> on a worker thread; fails when it does not finish within <see cref="Limit"/>.</summary>
    private static T Bounded<T>(Func<T> work, string what)
    {
        var task = Task.Run(work);
        Assert.True(task.Wait(Limit), $"{what} did not finish within {Limit.TotalSeconds} s.");
        return task.Result;
    }

    private static void Bounded(Action work, string what) => Bounded(() => { work(); return 0; }, what);

    /// <summary>Bytes allocated on the calling thread by <paramref name="work"/>.</summary>
    private static long AllocatedBy(Action work)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        work();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>Runs <paramref name="work"/> bounded in time and asserts it allocated less than <see cref="SmallAllocation"/>.</summary>
    private static void BoundedAndSmall(Action work, string what, long limit = SmallAllocation)
    {
        long allocated = Bounded(() => AllocatedBy(work), what);
        Assert.True(allocated < limit, $"{what} allocated {allocated:N0} bytes (limit {limit:N0}).");
    }

    private static string ProblemList(Dump dump) =>
        string.Join("; ", dump.Problems.Select(p => $"{p.ErrorId} [{p.Stream}]: {p.Message}"));

    private static DumpProblem AssertProblem(Dump dump, string errorId, MinidumpStreamType? stream)
    {
        var match = dump.Problems.FirstOrDefault(p => p.ErrorId == errorId && p.Stream == (uint?)stream);
        Assert.True(match is not null, $"Expected problem {errorId} on {stream?.ToString() ?? "header"}; got: {ProblemList(dump)}");
        Assert.False(string.IsNullOrWhiteSpace(match!.Message));
        return match;
    }

    private static void AssertNoProblem(Dump dump, string errorId) =>
        Assert.DoesNotContain(dump.Problems, p => p.ErrorId == errorId);

    private DumpFormatException OpenFails(string path, string errorId)
    {
        var e = Assert.Throws<DumpFormatException>(() => Dump.Open(path).Dispose());
        Assert.Equal(errorId, e.ErrorId);
        Assert.Equal(Path.GetFullPath(path), e.Path);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        // The format layer says the same.
        var f = Assert.Throws<DumpFormatException>(() => MinidumpFile.Open(Path.GetFullPath(path)).Dispose());
        Assert.Equal(errorId, f.ErrorId);
        return e;
    }

    /// <summary>Everything the model offers, plus memory rows over each thread's stack: none of it may throw.</summary>
    private static void ReadEverything(Dump dump)
    {
        EngineProbe.TouchEverything(dump);
        _ = dump.GetInfo();
        foreach (var t in dump.Threads)
        {
            if (t.StackLimit is { } limit) _ = dump.ReadMemoryRows(limit, 64, MemoryFormat.Pointer).ToArray();
            if (t.StackPointer is { } sp) _ = dump.ReadMemoryRows(sp, 64, MemoryFormat.QWord).ToArray();
        }
        foreach (var m in dump.Modules) _ = dump.ReadMemoryRows(m.BaseAddress, 16, MemoryFormat.Byte).ToArray();
        for (var e = dump.Exception; e is not null; e = e.Nested)
            if (e.NestedRecordAddress != 0) _ = dump.ReadExceptionRecord(e.ThreadId, e.NestedRecordAddress);
        _ = dump.Problems.Select(p => p.ErrorId + p.Message).ToArray();
    }

    private static ThreadSpec[] TwoThreads(MinidumpBuilder b) =>
    [
        new ThreadSpec { ThreadId = 0x111, Teb = 0x7000, Stack = b.AddMemory(0x10_0000, SynthDumpFiles.Pattern(0x100, 1)), Context = Contexts.Amd64(0x40_1000, 0x10_0010, 0x10_0080) },
        new ThreadSpec { ThreadId = 0x222, Teb = 0x9000, Stack = b.AddMemory(0x20_0000, SynthDumpFiles.Pattern(0x100, 2)), Context = Contexts.Amd64(0x40_2000, 0x20_0010, 0x20_0080) },
    ];

    private static ModuleSpec[] TwoModules() =>
    [
        new ModuleSpec { BaseOfImage = 0x40_0000, SizeOfImage = 0x1_0000, Name = @"C:\app\app.exe", CvRecord = CodeView.Rsds(Guid.Parse("0d9e6f1c-2b3a-4c5d-8e7f-901234567890"), 1, "app.pdb") },
        new ModuleSpec { BaseOfImage = 0x7FF0_0000_0000, SizeOfImage = 0x2_0000, Name = @"C:\Windows\System32\ntdll.dll", VersionInfo = Synth.FixedFileInfo.FromVersion(10, 0, 19041, 1) },
    ];

    // ------------------------------------------------------------------------------------------ not a dump at all

    [Fact]
    public void Wrong_signature_is_NotAMinidump()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.Signature = 0x00905A4D; // "MZ\x90\0": an executable, not a dump
        b.AddThreadList(TwoThreads(b));
        OpenFails(_files.Write(b), "NotAMinidump");
    }

    [Fact]
    public void Text_file_is_NotAMinidump() =>
        OpenFails(_files.Write(Encoding.ASCII.GetBytes("This is a text file that is long enough to hold a header.\n")), "NotAMinidump");

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(16)]
    [InlineData(31)]
    public void File_shorter_than_the_header_is_TruncatedHeader(int length)
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(TwoThreads(b));
        b.Truncate(length);
        OpenFails(_files.Write(b), "TruncatedHeader");
    }

    [Fact]
    public void Empty_file_is_TruncatedHeader()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.Truncate(0);
        string path = _files.Write(b);
        Assert.Equal(0, new FileInfo(path).Length);
        OpenFails(path, "TruncatedHeader");
    }

    [Fact]
    public void Directory_path_is_PathIsDirectory() => OpenFails(_files.Folder, "PathIsDirectory");

    [Fact]
    public void Missing_file_is_DumpFileNotFound() => OpenFails(Path.Combine(_files.Folder, "no-such-dump.dmp"), "DumpFileNotFound");

    // ------------------------------------------------------------------------------------------ header and directory

    [Fact]
    public void Header_only_file_opens_with_no_streams()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(TwoThreads(b));
        b.Truncate(MinidumpBuilder.HeaderSize);
        using var dump = _files.Open(_files.Write(b));
        AssertProblem(dump, "StreamDirectoryTruncated", null);
        Assert.Empty(dump.File!.Directory);
        Assert.Empty(dump.Threads);
        Bounded(() => ReadEverything(dump), "Reading a header-only dump");
    }

    [Theory]
    [InlineData(1_000_000u)]
    [InlineData(0xFFFF_FFFFu)]
    public void NumberOfStreams_larger_than_the_file_uses_the_entries_that_fit(uint declared)
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(TwoThreads(b));
        b.AddModuleList(TwoModules());
        b.AddMemoryListOfAllBlocks();
        b.NumberOfStreamsOverride = declared;
        using var dump = _files.Open(_files.Write(b));

        BoundedAndSmall(() => ReadEverything(dump), "Reading a dump with a huge stream count");
        Assert.Equal(declared, dump.File!.DeclaredStreamCount);
        AssertProblem(dump, "StreamDirectoryTruncated", null);
        Assert.True(dump.File!.Directory.Count < 100_000);
        // The real entries come first, so each real stream is found.
        Assert.Equal([0x111u, 0x222u], dump.Threads.Select(t => t.Id));
        Assert.Equal(["app.exe", "ntdll.dll"], dump.Modules.Select(m => m.Name));
        Assert.Equal(0x40_1000ul, dump.Threads[0].InstructionPointer);
    }

    [Fact]
    public void Directory_at_the_end_of_the_file_with_a_huge_count_keeps_its_entries()
    {
        var b = SynthDumpFiles.NewBuilder();
        var threads = b.AddThreadList(TwoThreads(b));
        var modules = b.AddModuleList(TwoModules());
        // A second directory, last in the file, that the header points at instead of the builder's own.
        var tail = new Section("tail-directory")
            .U32(SynthStream.ThreadList).U32(threads.FinalSize).U32(threads.Start)
            .U32(SynthStream.ModuleList).U32(modules.FinalSize).U32(modules.Start);
        b.Add(tail);
        b.StreamDirectoryRvaOverride = tail.Start;
        b.NumberOfStreamsOverride = 1_000_000;
        using var dump = _files.Open(_files.Write(b));

        Assert.Equal(b.FileEnd.Value, tail.End.Value);
        AssertProblem(dump, "StreamDirectoryTruncated", null);
        Assert.Equal([(uint)MinidumpStreamType.ThreadList, (uint)MinidumpStreamType.ModuleList], dump.File!.Directory.Select(e => e.Type));
        Assert.Equal(2, dump.Threads.Count);
        Assert.Equal(2, dump.Modules.Count);
        Assert.Null(dump.File!.SystemInfo); // only in the builder's own directory
    }

    [Theory]
    [InlineData(100)]
    [InlineData(-6)] // half an entry before the end
    public void Directory_rva_past_the_end(long fromEnd)
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(TwoThreads(b));
        b.StreamDirectoryRvaOverride = b.FileEnd + fromEnd;
        using var dump = _files.Open(_files.Write(b));
        AssertProblem(dump, "StreamDirectoryTruncated", null);
        Assert.Empty(dump.File!.Directory);
        Bounded(() => ReadEverything(dump), "Reading a dump whose directory is past its end");
    }

    [Fact]
    public void Directory_rva_at_uint_max()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.StreamDirectoryRvaOverride = Label.Const(0xFFFF_FFFF);
        using var dump = _files.Open(_files.Write(b));
        AssertProblem(dump, "StreamDirectoryTruncated", null);
        Bounded(() => ReadEverything(dump), "Reading a dump whose directory RVA is 0xFFFFFFFF");
    }

    [Fact]
    public void Stream_wholly_past_the_end_is_StreamOutOfRange()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddModuleList(TwoModules());
        b.AddDirectoryEntry(SynthStream.ThreadList, Label.Const(100), b.FileEnd + 100);
        b.AddDirectoryEntry(SynthStream.MemoryList, Label.Const(0xFFFF_FFFF), Label.Const(0xFFFF_FFFF));
        using var dump = _files.Open(_files.Write(b));

        AssertProblem(dump, "StreamOutOfRange", MinidumpStreamType.ThreadList);
        AssertProblem(dump, "StreamOutOfRange", MinidumpStreamType.MemoryList);
        Bounded(() => ReadEverything(dump), "Reading a dump with streams past its end");
        Assert.Empty(dump.Threads);
        Assert.Equal(0, dump.Memory.RangeCount);
        Assert.Equal(2, dump.Modules.Count); // the good stream is still read
    }

    [Fact]
    public void Stream_running_past_the_end_is_read_as_far_as_it_goes()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddCommentA("keep me");
        var threads = b.AddThreadList(TwoThreads(b)); // last in the file
        b.Truncate(threads.End - 10);                   // cuts the second thread short
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading a dump cut inside its thread list");
        AssertProblem(dump, "StreamOutOfRange", MinidumpStreamType.ThreadList);
        AssertProblem(dump, "ThreadListTruncated", MinidumpStreamType.ThreadList);
        Assert.Equal([0x111u], dump.Threads.Select(t => t.Id));
        Assert.Equal(["keep me"], dump.File!.Comments);
    }

    [Fact]
    public void Stream_size_of_uint_max_at_a_real_offset()
    {
        var b = SynthDumpFiles.NewBuilder();
        var comment = b.Add(new Section("comment").Ansi("hello", nulTerminate: true));
        b.AddDirectoryEntry(SynthStream.CommentA, Label.Const(0xFFFF_FFFF), comment.Start);
        using var dump = _files.Open(_files.Write(b));
        AssertProblem(dump, "StreamOutOfRange", MinidumpStreamType.CommentA);
        BoundedAndSmall(() => ReadEverything(dump), "Reading a stream that claims 4 GB");
        Assert.Equal(["hello"], dump.File!.Comments);
    }

    // ------------------------------------------------------------------------------------------ hostile counts

    /// <summary>
    /// A list stream with two real entries whose count says <paramref name="declared"/>: the two are returned, the
    /// shortfall is reported as "&lt;Stream&gt;Truncated", and the declared count sizes nothing.
    /// </summary>
    [Theory]
    [InlineData(nameof(MinidumpStreamType.ThreadList), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.ThreadList), 0xFFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.ThreadExList), 0xFFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.ModuleList), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.ModuleList), 0xFFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.UnloadedModuleList), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.UnloadedModuleList), 0xFFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.MemoryList), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.MemoryList), 0xFFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.Memory64List), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.Memory64List), 0xFFFF_FFFF_FFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.HandleData), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.HandleData), 0xFFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.ThreadInfoList), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.ThreadInfoList), 0xFFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.MemoryInfoList), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.MemoryInfoList), 0xFFFF_FFFF_FFFF_FFFFul)]
    [InlineData(nameof(MinidumpStreamType.ThreadNames), 1_000_000ul)]
    [InlineData(nameof(MinidumpStreamType.ThreadNames), 0xFFFF_FFFFul)]
    public void Huge_declared_count_with_two_entries_present(string streamName, ulong declared)
    {
        var stream = Enum.Parse<MinidumpStreamType>(streamName);
        uint count32 = (uint)Math.Min(declared, uint.MaxValue);
        var b = SynthDumpFiles.NewBuilder();
        switch (stream)
        {
            case MinidumpStreamType.ThreadList: b.AddThreadList(TwoThreads(b), count32); break;
            case MinidumpStreamType.ThreadExList: b.AddThreadExList(TwoThreads(b), count32); break;
            case MinidumpStreamType.ModuleList: b.AddModuleList(TwoModules(), count32); break;
            case MinidumpStreamType.UnloadedModuleList:
                b.AddUnloadedModuleList(
                [
                    new UnloadedModuleSpec { BaseOfImage = 0x1000_0000, SizeOfImage = 0x1000, Name = "one.dll" },
                    new UnloadedModuleSpec { BaseOfImage = 0x2000_0000, SizeOfImage = 0x2000, Name = "two.dll" },
                ], count32);
                break;
            case MinidumpStreamType.MemoryList:
                b.AddMemoryList([new MemoryBlock(0x1000, SynthDumpFiles.Pattern(0x10, 1)), new MemoryBlock(0x2000, SynthDumpFiles.Pattern(0x20, 2))], count32);
                break;
            case MinidumpStreamType.Memory64List:
                b.AddMemory64(0x1000, SynthDumpFiles.Pattern(0x10, 1));
                b.AddMemory64(0x2000, SynthDumpFiles.Pattern(0x20, 2));
                b.AddMemory64List(declared);
                break;
            case MinidumpStreamType.HandleData:
                b.AddHandleData([new HandleSpec { Handle = 4, TypeName = "Event" }, new HandleSpec { Handle = 8, TypeName = "File" }], countOverride: count32);
                break;
            case MinidumpStreamType.ThreadInfoList:
                b.AddThreadInfoList([new ThreadInfoSpec { ThreadId = 0x111, UserTime = 1 }, new ThreadInfoSpec { ThreadId = 0x222, UserTime = 2 }], count32);
                break;
            case MinidumpStreamType.MemoryInfoList:
                b.AddMemoryInfoList(
                [
                    new MemoryInfoSpec { BaseAddress = 0x1000, AllocationBase = 0x1000, RegionSize = 0x1000 },
                    new MemoryInfoSpec { BaseAddress = 0x2000, AllocationBase = 0x1000, RegionSize = 0x2000 },
                ], declared);
                break;
            case MinidumpStreamType.ThreadNames:
                b.AddThreadNames([(0x111u, "first"), (0x222u, "second")], count32);
                break;
        }
        using var dump = _files.Open(_files.Write(b));

        int count = -1;
        BoundedAndSmall(() => count = stream switch
        {
            MinidumpStreamType.ThreadList or MinidumpStreamType.ThreadExList => dump.File!.Threads.Count,
            MinidumpStreamType.ModuleList => dump.File!.Modules.Count,
            MinidumpStreamType.UnloadedModuleList => dump.File!.UnloadedModules.Count,
            MinidumpStreamType.MemoryList or MinidumpStreamType.Memory64List => dump.File!.MemoryRanges.Count,
            MinidumpStreamType.HandleData => dump.File!.Handles!.Count,
            MinidumpStreamType.ThreadInfoList => dump.File!.ThreadInfos.Count,
            MinidumpStreamType.MemoryInfoList => dump.File!.MemoryInfos.Count,
            MinidumpStreamType.ThreadNames => dump.File!.ThreadNames.Count,
            _ => throw new ArgumentOutOfRangeException(nameof(streamName)),
        }, $"Parsing {stream} with a declared count of {declared}", ListAllocation);
        Assert.Equal(2, count);
        AssertProblem(dump, $"{stream}Truncated", stream);
        BoundedAndSmall(() => ReadEverything(dump), $"Reading everything with a hostile {stream} count");

        // The two entries are the ones written.
        switch (stream)
        {
            case MinidumpStreamType.ThreadList or MinidumpStreamType.ThreadExList:
                Assert.Equal([0x111u, 0x222u], dump.Threads.Select(t => t.Id));
                Assert.Equal(0x40_2000ul, dump.Threads[1].InstructionPointer);
                break;
            case MinidumpStreamType.ModuleList:
                Assert.Equal(["app.exe", "ntdll.dll"], dump.Modules.Select(m => m.Name));
                break;
            case MinidumpStreamType.UnloadedModuleList:
                Assert.Equal(["one.dll", "two.dll"], dump.UnloadedModules.Select(m => m.Name));
                break;
            case MinidumpStreamType.MemoryList or MinidumpStreamType.Memory64List:
                Assert.Equal([0x1000ul, 0x2000ul], dump.File!.MemoryRanges.Select(r => r.StartOfMemoryRange));
                var buffer = new byte[0x20];
                Assert.Equal(0x20, dump.Memory.Read(0x2000, buffer));
                Assert.Equal(SynthDumpFiles.Pattern(0x20, 2), buffer);
                break;
            case MinidumpStreamType.HandleData:
                Assert.Equal(["Event", "File"], dump.Handles.Select(h => h.Type));
                break;
            case MinidumpStreamType.ThreadInfoList:
                Assert.Equal([1ul, 2ul], dump.File!.ThreadInfos.Select(t => t.UserTime));
                break;
            case MinidumpStreamType.MemoryInfoList:
                Assert.Equal([0x1000ul, 0x2000ul], dump.File!.MemoryInfos.Select(m => m.RegionSize));
                break;
            case MinidumpStreamType.ThreadNames:
                Assert.Equal("second", dump.File!.ThreadNames[0x222]);
                break;
        }
    }

    /// <summary>The header and entry sizes of the lists that carry them: 0, too small, or huge.</summary>
    [Theory]
    [InlineData(nameof(MinidumpStreamType.HandleData), 0u, 40u, "HandleDataCorrupt")]
    [InlineData(nameof(MinidumpStreamType.HandleData), 0xFFFF_FFFFu, 40u, "HandleDataCorrupt")]
    [InlineData(nameof(MinidumpStreamType.HandleData), 16u, 0u, "HandleDataCorrupt")]
    [InlineData(nameof(MinidumpStreamType.HandleData), 16u, 8u, "HandleDataCorrupt")]
    [InlineData(nameof(MinidumpStreamType.HandleData), 16u, 0xFFFF_FFFFu, "HandleDataTruncated")]
    [InlineData(nameof(MinidumpStreamType.HandleData), 16u, 0x8000_0000u, "HandleDataTruncated")]
    [InlineData(nameof(MinidumpStreamType.UnloadedModuleList), 0u, 24u, "UnloadedModuleListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.UnloadedModuleList), 0xFFFF_FFFFu, 24u, "UnloadedModuleListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.UnloadedModuleList), 12u, 0u, "UnloadedModuleListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.UnloadedModuleList), 12u, 0xFFFF_FFFFu, "UnloadedModuleListTruncated")]
    [InlineData(nameof(MinidumpStreamType.ThreadInfoList), 0u, 64u, "ThreadInfoListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.ThreadInfoList), 0xFFFF_FFFFu, 64u, "ThreadInfoListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.ThreadInfoList), 12u, 0u, "ThreadInfoListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.ThreadInfoList), 12u, 0xFFFF_FFFFu, "ThreadInfoListTruncated")]
    [InlineData(nameof(MinidumpStreamType.MemoryInfoList), 0u, 48u, "MemoryInfoListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.MemoryInfoList), 0xFFFF_FFFFu, 48u, "MemoryInfoListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.MemoryInfoList), 16u, 0u, "MemoryInfoListCorrupt")]
    [InlineData(nameof(MinidumpStreamType.MemoryInfoList), 16u, 0xFFFF_FFFFu, "MemoryInfoListTruncated")]
    public void Header_and_entry_sizes_zero_or_huge(string streamName, uint headerSize, uint entrySize, string errorId)
    {
        var stream = Enum.Parse<MinidumpStreamType>(streamName);
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(TwoThreads(b));
        switch (stream)
        {
            case MinidumpStreamType.HandleData:
                b.AddHandleData([new HandleSpec { Handle = 4, TypeName = "Event" }, new HandleSpec { Handle = 8 }], 2, null, entrySize)
                    .PatchU32(0, headerSize);
                break;
            case MinidumpStreamType.UnloadedModuleList:
                b.AddUnloadedModuleList([new UnloadedModuleSpec { Name = "a.dll" }, new UnloadedModuleSpec { Name = "b.dll" }], null, headerSize, entrySize);
                break;
            case MinidumpStreamType.ThreadInfoList:
                b.AddThreadInfoList([new ThreadInfoSpec { ThreadId = 0x111 }, new ThreadInfoSpec { ThreadId = 0x222 }], null, headerSize, entrySize);
                break;
            case MinidumpStreamType.MemoryInfoList:
                b.AddMemoryInfoList([new MemoryInfoSpec { BaseAddress = 0x1000, RegionSize = 0x1000 }, new MemoryInfoSpec { BaseAddress = 0x2000, RegionSize = 0x1000 }], null, headerSize, entrySize);
                break;
        }
        using var dump = _files.Open(_files.Write(b));

        BoundedAndSmall(() => ReadEverything(dump), $"Reading {stream} with header {headerSize} and entry {entrySize}");
        AssertProblem(dump, errorId, stream);
        int count = stream switch
        {
            MinidumpStreamType.HandleData => dump.File!.Handles!.Count,
            MinidumpStreamType.UnloadedModuleList => dump.File!.UnloadedModules.Count,
            MinidumpStreamType.ThreadInfoList => dump.File!.ThreadInfos.Count,
            _ => dump.File!.MemoryInfos.Count,
        };
        Assert.Equal(0, count);
        Assert.Equal(2, dump.Threads.Count); // the rest of the dump is untouched
    }

    [Fact]
    public void ThreadList_shorter_than_its_count()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddStream(SynthStream.ThreadList, [1, 0]);
        b.AddModuleList(TwoModules());
        using var dump = _files.Open(_files.Write(b));
        Assert.Empty(dump.Threads);
        AssertProblem(dump, "ThreadListTruncated", MinidumpStreamType.ThreadList);
        Assert.Equal(2, dump.Modules.Count);
    }

    // ------------------------------------------------------------------------------------------ strings and CodeView

    public static TheoryData<string> BadStrings => ["length-uint-max", "rva-past-end", "rva-uint-max", "runs-past-end"];

    /// <summary>A MINIDUMP_STRING that is unreadable in the way <paramref name="kind"/> says; returns its RVA.</summary>
    private static Label BadString(MinidumpBuilder b, string kind) => kind switch
    {
        "length-uint-max" => b.Add(new Section("bad-string").MinidumpString("kernel32.dll", 0xFFFF_FFFF)).Start,
        "rva-past-end" => b.FileEnd + 100,
        "rva-uint-max" => Label.Const(0xFFFF_FFFF),
        // A plausible length (under the 64 KB cap), but the file ends long before the characters do.
        "runs-past-end" => b.Add(new Section("long-string").MinidumpString("abc", 0xFFF0)).Start,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(BadStrings))]
    public void Module_name_unreadable(string kind)
    {
        var b = SynthDumpFiles.NewBuilder();
        var modules = TwoModules();
        modules[0].NameRvaOverride = BadString(b, kind);
        b.AddModuleList(modules);
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading a module with a bad name");
        Assert.Null(dump.File!.Modules[0].Name);
        Assert.Equal("image400000", dump.Modules[0].Name);
        Assert.Equal(0x40_0000ul, dump.Modules[0].BaseAddress);
        Assert.Equal("app.pdb", dump.Modules[0].PdbName); // the rest of the record is still read
        Assert.Equal("ntdll.dll", dump.Modules[1].Name);
        AssertProblem(dump, "ModuleNameUnreadable", MinidumpStreamType.ModuleList);
    }

    [Theory]
    [MemberData(nameof(BadStrings))]
    public void Unloaded_module_name_unreadable(string kind)
    {
        var b = SynthDumpFiles.NewBuilder();
        var list = b.AddUnloadedModuleList(
        [
            new UnloadedModuleSpec { BaseOfImage = 0x1000_0000, SizeOfImage = 0x1000, Name = "placeholder.dll" },
            new UnloadedModuleSpec { BaseOfImage = 0x2000_0000, SizeOfImage = 0x1000, Name = "good.dll" },
        ]);
        list.PatchU32(UnloadedHeaderSize + UnloadedNameRvaField, BadString(b, kind));
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading an unloaded module with a bad name");
        Assert.Null(dump.File!.UnloadedModules[0].Name);
        Assert.Equal("unloaded_10000000", dump.UnloadedModules[0].Name);
        Assert.Equal("good.dll", dump.UnloadedModules[1].Name);
        AssertProblem(dump, "UnloadedModuleNameUnreadable", MinidumpStreamType.UnloadedModuleList);
    }

    [Theory]
    [MemberData(nameof(BadStrings))]
    public void Thread_name_unreadable(string kind)
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(TwoThreads(b));
        var names = b.AddThreadNames([(0x111u, "placeholder"), (0x222u, "worker")]);
        names.PatchU32(ListCountSize + ThreadNameRvaField, BadString(b, kind)); // low half of the first RVA64
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading a bad thread name");
        Assert.Null(dump.Threads[0].Name);
        Assert.Equal("worker", dump.Threads[1].Name);
        AssertProblem(dump, "ThreadNameUnreadable", MinidumpStreamType.ThreadNames);
    }

    [Fact]
    public void Thread_name_rva64_beyond_4GB()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddThreadList(TwoThreads(b));
        var names = b.AddThreadNames([(0x111u, "placeholder"), (0x222u, "worker")]);
        names.PatchU64(ListCountSize + ThreadNameRvaField, 0xFFFF_FFFF_FFFF_FFF0);
        names.PatchU64(ListCountSize + ThreadNamesEntrySize + ThreadNameRvaField, 0x8000_0000_0000_0000);
        using var dump = _files.Open(_files.Write(b));
        Bounded(() => ReadEverything(dump), "Reading thread names at huge RVAs");
        Assert.Empty(dump.File!.ThreadNames);
        AssertProblem(dump, "ThreadNameUnreadable", MinidumpStreamType.ThreadNames);
    }

    [Theory]
    [MemberData(nameof(BadStrings))]
    public void Handle_names_unreadable(string kind)
    {
        var b = SynthDumpFiles.NewBuilder();
        var handles = b.AddHandleData(
        [
            new HandleSpec { Handle = 4, TypeName = "placeholder", ObjectName = "placeholder" },
            new HandleSpec { Handle = 8, TypeName = "File", ObjectName = @"\Device\Null" },
        ], descriptorVersion: 1);
        var bad = BadString(b, kind);
        handles.PatchU32(HandleHeaderSize + HandleTypeNameRvaField, bad);
        handles.PatchU32(HandleHeaderSize + HandleObjectNameRvaField, bad);
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading handles with bad names");
        var h = dump.Handles.ToArray();
        Assert.Null(h[0].Type);
        Assert.Null(h[0].ObjectName);
        Assert.Equal("File", h[1].Type);
        Assert.Equal(@"\Device\Null", h[1].ObjectName);
        Assert.Contains(dump.HandleSummary, s => s.Type == "(unknown)" && s.Count == 1);
        AssertProblem(dump, "HandleNameUnreadable", MinidumpStreamType.HandleData);
    }

    [Theory]
    [MemberData(nameof(BadStrings))]
    public void SystemInfo_service_pack_string_unreadable(string kind)
    {
        var b = new MinidumpBuilder { TimeDateStamp = SyntheticDumpTests.DumpUnixTime };
        var spec = new SystemInfoSpec { CsdVersion = null };
        spec.CsdVersionRvaOverride = BadString(b, kind);
        b.AddSystemInfo(spec);
        using var dump = _files.Open(_files.Write(b));
        Bounded(() => ReadEverything(dump), "Reading SystemInfo with a bad CSD string");
        Assert.Null(dump.File!.SystemInfo!.CsdVersion);
        Assert.Null(dump.GetInfo().ServicePack);
        Assert.Equal("10.0.19045", dump.GetInfo().OSVersion);
    }

    [Theory]
    [InlineData("rva-past-end")]
    [InlineData("size-uint-max")]
    [InlineData("runs-past-end")]
    public void CodeView_record_out_of_range(string kind)
    {
        var b = SynthDumpFiles.NewBuilder();
        var list = b.AddModuleList(TwoModules());
        switch (kind)
        {
            case "rva-past-end": list.PatchU32(ListCountSize + ModuleCvRvaField, b.FileEnd + 100); break;
            case "size-uint-max": list.PatchU32(ListCountSize + ModuleCvSizeField, 0xFFFF_FFFF); break;
            case "runs-past-end": list.PatchU32(ListCountSize + ModuleCvRvaField, b.FileEnd - 8); break;
        }
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading a module with a bad CodeView record");
        Assert.Null(dump.File!.Modules[0].CodeView);
        Assert.Equal("app.exe", dump.Modules[0].Name);
        Assert.Null(dump.Modules[0].PdbName);
        AssertProblem(dump, "CodeViewOutOfRange", MinidumpStreamType.ModuleList);
    }

    [Fact]
    public void CodeView_records_too_short_for_their_signature()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddModuleList(
            new ModuleSpec { BaseOfImage = 0x1000_0000, SizeOfImage = 0x1000, Name = "a.dll", CvRecord = new Section("short-rsds").U32(CodeView.RsdsSignature).U32(1) },
            new ModuleSpec { BaseOfImage = 0x2000_0000, SizeOfImage = 0x1000, Name = "b.dll", CvRecord = new Section("short-nb10").U32(CodeView.Nb10Signature) },
            new ModuleSpec { BaseOfImage = 0x3000_0000, SizeOfImage = 0x1000, Name = "c.dll", CvRecord = new Section("rsds-no-nul").U32(CodeView.RsdsSignature).Guid(Guid.Empty).U32(3).Ansi("x.pdb") });
        using var dump = _files.Open(_files.Write(b));
        Bounded(() => ReadEverything(dump), "Reading short CodeView records");
        Assert.Equal("Unknown", dump.Modules[0].CodeViewFormat);
        Assert.Equal("Unknown", dump.Modules[1].CodeViewFormat);
        Assert.Equal("x.pdb", dump.Modules[2].PdbName);
        Assert.Equal(3u, dump.Modules[2].PdbAge);
    }

    // ------------------------------------------------------------------------------------------ exception

    [Theory]
    [InlineData(16u)]
    [InlineData(0xFFFFu)]
    [InlineData(0xFFFF_FFFFu)]
    public void Exception_parameter_count_is_clamped(uint declared)
    {
        var b = SynthDumpFiles.NewBuilder();
        ulong[] parameters = Enumerable.Range(1, 15).Select(i => (ulong)i).ToArray();
        b.AddException(new ExceptionSpec { ThreadId = 1, ExceptionCode = WinConst.StatusAccessViolation, Parameters = parameters, NumberParametersOverride = declared });
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading an exception with a bad parameter count");
        var stored = dump.File!.Exception!;
        Assert.Equal(declared, stored.NumberParameters);
        Assert.Equal(parameters, stored.Parameters);
        Assert.Equal(15, dump.Exception!.Parameters.Length);
        Assert.Equal("Write", dump.Exception.AccessType); // decoded from the parameters kept
        Assert.Equal(2ul, dump.Exception.TargetAddress);
        AssertProblem(dump, "ExceptionParameterCountInvalid", MinidumpStreamType.Exception);
    }

    [Fact]
    public void Nested_exception_record_with_a_huge_parameter_count()
    {
        var b = SynthDumpFiles.NewBuilder();
        var record = new Section("record").U32(WinConst.StatusAccessViolation).U32(0).U64(0).U64(0x1234).U32(0xFFFF_FFFF).U32(0);
        for (int i = 0; i < 15; i++) record.U64((ulong)i);
        var block = b.AddMemory(0x5000, record);
        b.AddMemoryList(block);
        b.AddException(new ExceptionSpec { ThreadId = 1, ExceptionCode = 0xE0000001, ExceptionRecord = block.Address });
        using var dump = _files.Open(_files.Write(b));
        var nested = Bounded(() => dump.Exception!.Nested!, "Reading a nested record with a huge parameter count");
        Assert.Equal(15, nested.Parameters.Length);
        Assert.Equal(WinConst.StatusAccessViolation, nested.Code);
    }

    [Fact]
    public void Nested_exception_record_cut_by_the_end_of_its_memory()
    {
        var b = SynthDumpFiles.NewBuilder();
        var block = b.AddMemory(0x5000, new Section("half-record").U32(WinConst.StatusAccessViolation).U32(0).U64(0));
        b.AddMemoryList(block);
        b.AddException(new ExceptionSpec { ThreadId = 1, ExceptionCode = 0xE0000001, ExceptionRecord = block.Address });
        b.AddException(new ExceptionSpec { ThreadId = 2, ExceptionCode = 0xE0000002, ExceptionRecord = 0xDEAD_0000 }); // a second stream is ignored
        using var dump = _files.Open(_files.Write(b));
        var e = Bounded(() => dump.Exception!, "Reading a cut nested record");
        Assert.Equal(1u, e.ThreadId);
        Assert.Null(e.Nested);
        Assert.Null(dump.ReadExceptionRecord(1, 0xDEAD_0000));
    }

    [Fact]
    public void Exception_stream_cut_by_the_end_of_the_file()
    {
        var b = SynthDumpFiles.NewBuilder();
        var stream = b.AddException(new ExceptionSpec { ThreadId = 9, ExceptionCode = WinConst.StatusBreakpoint, ExceptionAddress = 0x1234, Parameters = [1, 2, 3] });
        b.Truncate(stream.Start + 48); // through the first parameter
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading a cut exception stream");
        AssertProblem(dump, "ExceptionTruncated", MinidumpStreamType.Exception);
        var e = dump.File!.Exception!;
        Assert.Equal(9u, e.ThreadId);
        Assert.Equal(WinConst.StatusBreakpoint, e.ExceptionCode);
        Assert.Equal(0x1234ul, e.ExceptionAddress);
        Assert.Equal(1ul, e.Parameters[0]);
        Assert.Equal(0u, e.ContextRva);
    }

    // ------------------------------------------------------------------------------------------ contexts

    [Theory]
    [InlineData("rva-past-end")]
    [InlineData("rva-uint-max")]
    [InlineData("runs-past-end")]
    [InlineData("size-zero")]
    [InlineData("size-uint-max")]
    public void Thread_context_out_of_range(string kind)
    {
        var b = SynthDumpFiles.NewBuilder();
        var list = b.AddThreadList(TwoThreads(b));
        b.AddMemoryListOfAllBlocks();
        switch (kind)
        {
            case "rva-past-end": list.PatchU32(ListCountSize + ThreadContextRvaField, b.FileEnd + 100); break;
            case "rva-uint-max": list.PatchU32(ListCountSize + ThreadContextRvaField, 0xFFFF_FFFF); break;
            case "runs-past-end": list.PatchU32(ListCountSize + ThreadContextRvaField, b.FileEnd - 0x40); break;
            case "size-zero": list.PatchU32(ListCountSize + ThreadContextSizeField, 0); break;
            case "size-uint-max": list.PatchU32(ListCountSize + ThreadContextSizeField, 0xFFFF_FFFF); break;
        }
        using var dump = _files.Open(_files.Write(b));

        BoundedAndSmall(() => ReadEverything(dump), "Reading a thread with a bad context");
        var t = dump.Threads[0];
        Assert.Equal(0x111u, t.Id);
        if (kind == "size-uint-max")
        {
            Assert.Equal(0x40_1000ul, t.InstructionPointer); // the whole CONTEXT is there; the size is only too big
        }
        else
        {
            Assert.Empty(t.Registers);
            Assert.Null(t.InstructionPointer);
            Assert.Null(t.StackPointer);
        }
        Assert.Equal("StackMemory", t.StackBoundsSource); // the stack is still known
        Assert.Equal(0x40_2000ul, dump.Threads[1].InstructionPointer);
    }

    [Fact]
    public void Exception_context_out_of_range()
    {
        var b = SynthDumpFiles.NewBuilder();
        var stream = b.AddException(new ExceptionSpec { ThreadId = 1, ExceptionCode = WinConst.StatusBreakpoint, Context = Contexts.Amd64(1, 2, 3) });
        stream.PatchU32(ExceptionContextRvaField, b.FileEnd + 100);
        using var dump = _files.Open(_files.Write(b));
        var e = Bounded(() => dump.Exception!, "Reading an exception with a bad context");
        Assert.Null(e.InstructionPointer);
        Assert.Null(e.ContextRegisters);
        Assert.Equal(WinConst.StatusBreakpoint, e.Code);
    }

    // ------------------------------------------------------------------------------------------ memory

    [Fact]
    public void MemoryList_range_running_past_the_end()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemoryListOfAllBlocks();
        b.AddMemory(0x1000, SynthDumpFiles.Pattern(0x100, 1));
        var cut = b.AddMemory(0x8000, SynthDumpFiles.Pattern(0x1000, 2)); // last in the file
        b.Truncate(cut.Data.Start + 0x100);
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading a memory range cut by the end of the file");
        AssertProblem(dump, "MemoryRangeOutOfFile", MinidumpStreamType.MemoryList);
        Assert.Equal([(0x1000ul, 0x100ul), (0x8000ul, 0x100ul)], dump.Memory.Ranges);
        var buffer = new byte[0x1000];
        Assert.Equal(0x100, dump.Memory.Read(0x8000, buffer));
        Assert.Equal(SynthDumpFiles.Pattern(0x1000, 2)[..0x100], buffer[..0x100]);
        Assert.Equal(0, dump.Memory.Read(0x8100, buffer));
        Assert.Equal(0x100, dump.Memory.Read(0x1000, buffer));
    }

    [Fact]
    public void MemoryList_range_wholly_past_the_end()
    {
        var b = SynthDumpFiles.NewBuilder();
        var list = b.AddMemoryList(new MemoryBlock(0x1000, SynthDumpFiles.Pattern(0x40, 1)), new MemoryBlock(0x2000, SynthDumpFiles.Pattern(0x40, 2)));
        list.PatchU32(ListCountSize + MemoryDescriptorRvaField, b.FileEnd + 0x1000);
        using var dump = _files.Open(_files.Write(b));
        Assert.Equal([(0x2000ul, 0x40ul)], dump.Memory.Ranges);
        AssertProblem(dump, "MemoryRangeOutOfFile", MinidumpStreamType.MemoryList);
        Assert.False(dump.Memory.Contains(0x1000));
    }

    [Fact]
    public void Memory64List_range_running_past_the_end()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemory64(0x1000, SynthDumpFiles.Pattern(0x100, 1));
        b.AddMemory64(0x9000, SynthDumpFiles.Pattern(0x1000, 2));
        b.AddMemory64(0xF000, SynthDumpFiles.Pattern(0x100, 3));
        b.Truncate(b.Memory64BaseRva + 0x180);
        using var dump = _files.Open(_files.Write(b));

        Bounded(() => ReadEverything(dump), "Reading Memory64 ranges cut by the end of the file");
        AssertProblem(dump, "MemoryRangeOutOfFile", MinidumpStreamType.Memory64List);
        Assert.Equal([(0x1000ul, 0x100ul), (0x9000ul, 0x80ul)], dump.Memory.Ranges);
        var buffer = new byte[0x100];
        Assert.Equal(0x80, dump.Memory.Read(0x9000, buffer));
        Assert.Equal(SynthDumpFiles.Pattern(0x1000, 2)[..0x80], buffer[..0x80]);
        Assert.False(dump.Memory.Contains(0xF000));
    }

    [Fact]
    public void Memory64List_base_rva_past_the_end_and_sizes_that_overflow()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemory64(0x1000, SynthDumpFiles.Pattern(0x10, 1));
        b.AddMemory64List(baseRvaOverride: Label.Const(0xFFFF_FFFF_FFFF_FF00));
        using var dump = _files.Open(_files.Write(b));
        BoundedAndSmall(() => ReadEverything(dump), "Reading Memory64 data past the end");
        AssertProblem(dump, "MemoryRangeOutOfFile", MinidumpStreamType.Memory64List);
        Assert.Equal(0, dump.Memory.RangeCount);

        var b2 = SynthDumpFiles.NewBuilder();
        var list = new Section("memory64-hostile").U64(3).U64(b2.Memory64BaseRva)
            .U64(0x1000).U64(0xFFFF_FFFF_FFFF_FFF0)  // a size that wraps the running RVA
            .U64(0x2000).U64(0x20)
            .U64(0x3000).U64(0x10);
        b2.AddStream(SynthStream.Memory64List, list);
        b2.AddMemoryList(new MemoryBlock(0x7000, SynthDumpFiles.Pattern(0x40, 7)));
        using var dump2 = _files.Open(_files.Write(b2));
        BoundedAndSmall(() => ReadEverything(dump2), "Reading Memory64 sizes that overflow");
        AssertProblem(dump2, "MemoryRangeOutOfFile", MinidumpStreamType.Memory64List);
        Assert.True(dump2.Memory.Contains(0x7000));
    }

    [Fact]
    public void Memory_range_wrapping_the_address_space()
    {
        const ulong top = 0xFFFF_FFFF_FFFF_F000;
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemoryList(new MemoryBlock(top, SynthDumpFiles.Pattern(0x2000, 1)), new MemoryBlock(0, SynthDumpFiles.Filled(0x10, 0xEE)));
        using var dump = _files.Open(_files.Write(b));

        BoundedAndSmall(() => ReadEverything(dump), "Reading a range that wraps the address space");
        AssertProblem(dump, "MemoryRangeOutOfFile", MinidumpStreamType.MemoryList);
        var memory = dump.Memory;
        var buffer = new byte[0x2000];
        int read = memory.Read(top, buffer);
        Assert.InRange(read, 0xFFF, 0x1000);
        Assert.Equal(SynthDumpFiles.Pattern(0x2000, 1)[..read], buffer[..read]);
        // Reading on past the top does not wrap into the range at 0.
        Assert.Equal(read, memory.Read(top, buffer));
        Assert.True(memory.Contains(0));
        Assert.Equal(0x10, memory.Read(0, buffer.AsSpan(0, 0x20)));
        Assert.Equal(0xEE, buffer[0]);
        var rows = dump.ReadMemoryRows(ulong.MaxValue - 0x1F, 64, MemoryFormat.Byte).ToArray();
        Assert.Equal(2, rows.Length); // stops at the top, never wraps to 0
        Assert.All(rows, r => Assert.True(r.Address >= ulong.MaxValue - 0x1F));
    }

    [Fact]
    public void Memory_range_ending_exactly_at_the_top()
    {
        const ulong top = 0xFFFF_FFFF_FFFF_F000;
        var b = SynthDumpFiles.NewBuilder();
        b.AddMemoryList(new MemoryBlock(top, SynthDumpFiles.Pattern(0x1000, 1)));
        using var dump = _files.Open(_files.Write(b));
        Bounded(() => ReadEverything(dump), "Reading a range at the top of the address space");
        AssertNoProblem(dump, "MemoryRangeOutOfFile");
        var buffer = new byte[0x1000];
        Assert.InRange(dump.Memory.Read(top, buffer), 0xFFF, 0x1000);
        Assert.True(dump.Memory.TryReadUInt64(ulong.MaxValue - 15, out _));
    }

    // ------------------------------------------------------------------------------------------ every byte

    /// <summary>A dump with every stream the engine reads, for the truncation and corruption loops.</summary>
    private static MinidumpBuilder RichDump()
    {
        var b = new MinidumpBuilder { TimeDateStamp = SyntheticDumpTests.DumpUnixTime, Flags = WinConst.MiniDumpWithFullMemoryInfo | WinConst.MiniDumpWithHandleData };
        b.AddSystemInfo(new SystemInfoSpec { CsdVersion = "SP1", VendorId = "GenuineIntel" });
        b.AddMiscInfo(new MiscInfoSpec
        {
            Version = 5, ProcessId = 77, ProcessCreateTime = SyntheticDumpTests.DumpUnixTime - 100, ProcessUserTime = 1, ProcessKernelTime = 1,
            ProcessIntegrityLevel = 0x2000, TimeZone = new TimeZoneSpec { StandardName = "UTC" }, BuildString = "10.0.19041.1", ProcessCookie = 5,
        });
        // An NT_TIB for the first thread, so the TEB path of the stack bounds runs too.
        var teb = b.AddMemory(0x7000, new Section("teb").U64(0).U64(0x10_0100).U64(0x10_0000).Zeros(0x28));
        var image = new Section("image-headers").Bytes("MZ"u8).Zeros(58).U32(0x80).Zeros(0x80 - 64).Bytes("PE\0\0"u8).U16(0x8664).U16(1).Zeros(0x100);
        var imageBlock = b.AddMemory(0x40_0000, image);
        var threads = TwoThreads(b);
        var nested = b.AddMemory(0x30_0000, new Section("nested").U32(WinConst.StatusAccessViolation).U32(0).U64(0x30_0000).U64(0x40_1000).U32(2).U32(0).U64(1).U64(0x10).Zeros(13 * 8));
        b.AddThreadList(threads);
        b.AddThreadInfoList([new ThreadInfoSpec { ThreadId = 0x111, CreateTime = 133_000_000_000_000_000, UserTime = 30_000_000 }, new ThreadInfoSpec { ThreadId = 0x222 }]);
        b.AddThreadNames([(0x111u, "main"), (0x222u, "worker")]);
        b.AddModuleList(TwoModules());
        b.AddUnloadedModuleList([new UnloadedModuleSpec { BaseOfImage = 0x5000_0000, SizeOfImage = 0x1000, Name = "gone.dll" }]);
        b.AddException(new ExceptionSpec
        {
            ThreadId = 0x111, ExceptionCode = WinConst.StatusAccessViolation, ExceptionRecord = nested.Address, ExceptionAddress = 0x40_1000,
            Parameters = [1, 0x10], Context = Contexts.Amd64(0x40_1000, 0x10_0010, 0x10_0080),
        });
        b.AddHandleData([new HandleSpec { Handle = 4, TypeName = "Event", ObjectName = "Ready" }, new HandleSpec { Handle = 8, TypeName = "File" }]);
        b.AddCommentA("comment A");
        b.AddCommentW("comment W");
        b.AddMemoryInfoList([new MemoryInfoSpec { BaseAddress = 0x10_0000, AllocationBase = 0x10_0000, RegionSize = 0x1000 }]);
        b.AddSystemMemoryInfo(new SystemMemoryInfoSpec { AvailablePages = 5 });
        b.AddProcessVmCounters(new VmCountersSpec { PrivateUsage = 0x1000 });
        b.AddMemoryListOfAllBlocks();
        b.AddMemory64(0x60_0000, SynthDumpFiles.Pattern(0x100, 6));
        b.AddMemory64(0x60_0100, SynthDumpFiles.Pattern(0x80, 7));
        _ = teb; _ = imageBlock;
        return b;
    }

    /// <summary>Opens <paramref name="path"/> and reads everything: only <see cref="DumpFormatException"/> may come out.</summary>
    private static string OpenAndReadEverything(string path)
    {
        try
        {
            using var dump = Dump.Open(path);
            ReadEverything(dump);
            return "opened";
        }
        catch (DumpFormatException e)
        {
            Assert.False(string.IsNullOrEmpty(e.ErrorId));
            return e.ErrorId;
        }
    }

    [Fact]
    public void Rich_dump_reads_cleanly()
    {
        using var dump = _files.Open(RichDump());
        ReadEverything(dump);
        Assert.True(dump.Problems.Count == 0, ProblemList(dump));
        Assert.Equal("main", dump.Threads[0].Name);
        Assert.Equal("TEB", dump.Threads[0].StackBoundsSource);
        Assert.NotNull(dump.Exception!.Nested);
        Assert.Equal(2, dump.Handles.Count());
    }

    [Fact]
    public void Truncated_at_every_97th_byte()
    {
        byte[] full = RichDump().Build();
        string path = _files.NewPath("truncated");
        var outcomes = new Dictionary<string, int>();
        for (int length = 0; length <= full.Length; length += 97)
        {
            File.WriteAllBytes(path, full[..length]);
            int at = length;
            string outcome = "";
            long allocated = Bounded(() => AllocatedBy(() => outcome = OpenAndReadEverything(path)), $"Opening the dump cut at {at} bytes");
            Assert.True(allocated < 64L << 20, $"Cut at {at}: reading allocated {allocated:N0} bytes.");
            if (length < MinidumpBuilder.HeaderSize) Assert.Equal("TruncatedHeader", outcome);
            else Assert.Equal("opened", outcome);
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        Assert.True(outcomes.GetValueOrDefault("opened") > 50, string.Join(", ", outcomes));
    }

    /// <summary>Every aligned 32-bit field overwritten with hostile values, one at a time.</summary>
    [Theory]
    [InlineData(0xFFFF_FFFFu)]
    [InlineData(0x8000_0000u)]
    [InlineData(0x0000_0000u)]
    [InlineData(0x7FFF_FFFFu)]
    public void Every_field_overwritten(uint value)
    {
        byte[] full = RichDump().Build();
        string path = _files.NewPath("field");
        // The memory payload at the end (Memory64 data) holds no structure; stop before it.
        int structureEnd = Math.Min(full.Length, 0x4000);
        Bounded(() =>
        {
            var bytes = (byte[])full.Clone();
            for (int at = 0; at + 4 <= structureEnd; at += 4)
            {
                uint old = BitConverter.ToUInt32(bytes, at);
                if (old == value) continue;
                BitConverter.TryWriteBytes(bytes.AsSpan(at), value);
                File.WriteAllBytes(path, bytes);
                try
                {
                    string outcome = OpenAndReadEverything(path);
                    if (at >= MinidumpBuilder.HeaderSize) Assert.Equal("opened", outcome);
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    throw new Xunit.Sdk.XunitException($"Field at 0x{at:X} = 0x{value:X8}: {e}");
                }
                BitConverter.TryWriteBytes(bytes.AsSpan(at), old);
            }
        }, $"Overwriting every field with 0x{value:X8}", TimeSpan.FromSeconds(120));
    }

    /// <summary>Random byte corruption with fixed seeds.</summary>
    [Fact]
    public void Random_corruption()
    {
        byte[] full = RichDump().Build();
        string path = _files.NewPath("random");
        Bounded(() =>
        {
            for (int seed = 0; seed < 400; seed++)
            {
                var random = new Random(seed);
                var bytes = (byte[])full.Clone();
                int flips = random.Next(1, 16);
                for (int i = 0; i < flips; i++)
                {
                    int at = random.Next(MinidumpBuilder.HeaderSize, bytes.Length);
                    bytes[at] = random.Next(3) switch { 0 => 0xFF, 1 => 0x00, _ => (byte)random.Next(256) };
                }
                File.WriteAllBytes(path, bytes);
                try
                {
                    Assert.Equal("opened", OpenAndReadEverything(path));
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    throw new Xunit.Sdk.XunitException($"Seed {seed}: {e}");
                }
            }
        }, "Random corruption", TimeSpan.FromSeconds(120));
    }

    private static void Bounded(Action work, string what, TimeSpan limit)
    {
        var task = Task.Run(work);
        Assert.True(task.Wait(limit), $"{what} did not finish within {limit.TotalSeconds} s.");
    }
}
