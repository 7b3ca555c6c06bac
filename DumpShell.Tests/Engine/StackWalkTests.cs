using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using DumpShell.Machine;
using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Symbols.Pe;
using DumpShell.Tests.Synth;
using Xunit.Abstractions;
using static DumpShell.Tests.Engine.SynthImage;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The stack walker (DumpShell.Machine.Unwind) and the PE readers it uses (function table, unwind records,
/// exports, image files): against the Wine dumps and their truth files (with the executables from the symbol
/// store next to them), against the Breakpad/lldb corpus and its documented stacks, and against synthetic
/// stacks built here for each unwind operation, chained records, machine frames, epilogs, leaf functions,
/// frame pointers, scanning and hostile unwind data.
/// </summary>
public class StackWalkTests(ITestOutputHelper output)
{
    // ================================================================== image finders

    /// <summary>The test's symbol-store lookup: wine/symbols/&lt;name&gt;/&lt;TimeDateStamp %08X&gt;&lt;SizeOfImage %X&gt;/&lt;name&gt;.</summary>
    internal static string? FindWineImage(DumpModule m)
    {
        string path = Path.Combine(TestData.Wine, "symbols", m.Name, $"{m.TimeDateStamp:X8}{m.Size:X}", m.Name);
        return File.Exists(path) ? path : null;
    }

    private static StackWalkOptions WineOptions(int maxFrames = StackWalkOptions.DefaultMaxFrames) =>
        new() { FindImageFile = FindWineImage, MaxFrames = maxFrames };

    private void Print(IEnumerable<StackFrame> frames)
    {
        foreach (var f in frames)
            output.WriteLine($"{f.Frame,3} sp={f.ChildSP:x12} ip={f.InstructionPointer:x12} fp={f.FramePointer:x12} {f.Trust,-12} {f.Symbol}{(f.StopReason is null ? "" : "  <- " + f.StopReason)}");
    }

    // ================================================================== Wine truth helpers

    private static ulong Hex(JsonElement e) => ulong.Parse(e.GetString()!.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public static IEnumerable<object[]> WineExceptionDumps() =>
        TestData.WineDumpNames().Where(n => TestData.Truth(n).GetProperty("exception").ValueKind == JsonValueKind.Object)
            .Select(n => new object[] { n });

    /// <summary>
    /// A function's [start, end) in the executable: from the truth (the PDB's rva_end for _pdb builds), else from the
    /// image file's .pdata entry that begins at the function's start (read here with the test's own PE parsing).
    /// </summary>
    private static (ulong Start, ulong End) FunctionRange(string dumpName, string function)
    {
        var truth = TestData.Truth(dumpName);
        ulong imageBase = Hex(truth.GetProperty("from_scenario").GetProperty("image_base"));
        if (truth.GetProperty("symbols") is { ValueKind: JsonValueKind.Object } symbols &&
            symbols.TryGetProperty("functions", out var pdbFunctions))
        {
            foreach (var f in pdbFunctions.EnumerateArray())
                if (f.GetProperty("name").GetString() == function)
                    return (imageBase + Hex(f.GetProperty("rva")), imageBase + Hex(f.GetProperty("rva_end")));
        }
        uint rva = 0;
        foreach (var f in truth.GetProperty("from_build").GetProperty("functions_from_nm").EnumerateArray())
            if (f.GetProperty("name").GetString() == function) rva = (uint)Hex(f.GetProperty("rva"));
        Assert.True(rva != 0, $"{function} is not in the truth of {dumpName}");
        var (begin, end) = PdataEntryStartingAt(ImagePathOf(dumpName), rva);
        return (imageBase + begin, imageBase + end);
    }

    /// <summary>The .pdata entry of the function starting at (or containing) <paramref name="rva"/>, read from the image file.</summary>
    private static (uint Begin, uint End) PdataEntryStartingAt(string imagePath, uint rva)
    {
        var file = File.ReadAllBytes(imagePath);
        int pe = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(0x3C));
        int sections = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(pe + 6));
        int optionalSize = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(pe + 20));
        int opt = pe + 24;
        uint pdataRva = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(opt + 112 + 3 * 8));
        uint pdataSize = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(opt + 112 + 3 * 8 + 4));
        for (int i = 0; i < sections; i++)
        {
            var h = file.AsSpan(opt + optionalSize + 40 * i, 40);
            uint va = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
            uint raw = BinaryPrimitives.ReadUInt32LittleEndian(h[16..]);
            uint at = BinaryPrimitives.ReadUInt32LittleEndian(h[20..]);
            if (pdataRva < va || pdataRva >= va + raw) continue;
            int offset = (int)(at + pdataRva - va);
            for (int k = 0; k < pdataSize / 12; k++)
            {
                uint begin = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 12 * k));
                uint end = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 12 * k + 4));
                if (rva >= begin && rva < end) return (begin, end);
            }
        }
        throw new InvalidOperationException($"No .pdata entry for RVA 0x{rva:x} in {imagePath}");
    }

    private static string ImagePathOf(string dumpName) =>
        Path.Combine(TestData.Wine, TestData.Truth(dumpName).GetProperty("symstore_image").GetString()!);

    private static ulong ThreadStart(string dumpName, uint tid)
    {
        foreach (var t in TestData.Truth(dumpName).GetProperty("live_process").GetProperty("threads").EnumerateArray())
            if (t.GetProperty("tid").GetUInt32() == tid) return Hex(t.GetProperty("start_address"));
        throw new InvalidOperationException($"tid {tid} not in the truth");
    }

    /// <summary>The scenario function the exception thread must be in (or return into), by dump.</summary>
    private static string? ScenarioFunction(string dumpName)
    {
        var scenario = TestData.Truth(dumpName).GetProperty("from_scenario");
        foreach (string key in (string[])["faulting_function", "throwing_function", "recursive_function"])
            if (scenario.TryGetProperty(key, out var f)) return f.GetProperty("name").GetString();
        return null;
    }

    private static int IndexOfFrameIn(IReadOnlyList<StackFrame> frames, (ulong Start, ulong End) range, int from = 0)
    {
        for (int i = from; i < frames.Count; i++)
            if (frames[i].InstructionPointer >= range.Start && frames[i].InstructionPointer < range.End) return i;
        return -1;
    }

    /// <summary>What every walk must satisfy, whatever the dump.</summary>
    private static void AssertWellFormed(IReadOnlyList<StackFrame> frames, ulong? ip, ulong? sp, int maxFrames)
    {
        if (frames.Count == 0) return;
        Assert.Equal(FrameTrust.Context, frames[0].Trust);
        if (ip is { } i) Assert.Equal(i, frames[0].InstructionPointer);
        if (sp is { } s) Assert.Equal(s, frames[0].ChildSP);
        Assert.True(frames.Count <= maxFrames);
        for (int k = 0; k < frames.Count; k++)
        {
            Assert.Equal(k, frames[k].Frame);
            if (k > 0)
            {
                Assert.True(frames[k].ChildSP > frames[k - 1].ChildSP, $"frame {k}: SP 0x{frames[k].ChildSP:x} does not increase");
                Assert.NotEqual(FrameTrust.Context, frames[k].Trust);
                Assert.NotNull(frames[k].Module); // a caller frame is only taken when its IP is in a module
            }
            if (k + 1 < frames.Count)
            {
                Assert.Equal(frames[k + 1].InstructionPointer, frames[k].ReturnAddress);
                Assert.Null(frames[k].StopReason);
            }
            Assert.Null(frames[k].Function);
            Assert.Null(frames[k].SourceFile);
            Assert.Null(frames[k].Line);
        }
        Assert.Null(frames[^1].ReturnAddress);
        Assert.False(string.IsNullOrWhiteSpace(frames[^1].StopReason));
    }

    // ================================================================== Wine x64 dumps

    /// <summary>
    /// The exception thread walked from the exception context: frame 0 is the context; within the first few
    /// frames an IP lies in the scenario's function (for null_call, the frame returning into call_through_null);
    /// later main, then the thread's start function (mainCRTStartup, the truth's start_address), with the frames
    /// of the executable after main unwound by its .pdata/.xdata (read from the image file in the symbol store).
    /// </summary>
    [Theory]
    [MemberData(nameof(WineExceptionDumps))]
    public void Wine_exception_thread_reaches_the_scenario_function_main_and_the_thread_start(string dumpName)
    {
        if (dumpName.StartsWith("stack_bof", StringComparison.Ordinal)) return; // the smashed stack: its own test
        var truth = TestData.Truth(dumpName);
        var exception = truth.GetProperty("exception");
        uint tid = exception.GetProperty("thread").GetUInt32();
        bool overflow = dumpName.StartsWith("stack_overflow", StringComparison.Ordinal);
        using var dump = Dump.Open(TestData.WineDump(dumpName));
        var context = dump.ExceptionContext;
        Assert.NotNull(context);
        Assert.Equal(Hex(exception.GetProperty("context").GetProperty("rip")), context!.InstructionPointer);

        // The recursion of stack_overflow is thousands of frames deep: allow enough to reach the bottom.
        int maxFrames = overflow ? 20_000 : StackWalkOptions.DefaultMaxFrames;
        var frames = dump.WalkExceptionStack(WineOptions(maxFrames));
        Print(frames.Take(16));
        AssertWellFormed(frames, context.InstructionPointer, context.StackPointer, maxFrames);
        Assert.Equal(tid, frames[0].ThreadId);

        var main = FunctionRange(dumpName, "main");
        int scenarioAt = -1;
        if (ScenarioFunction(dumpName) is { } name && !dumpName.StartsWith("heap_corrupt", StringComparison.Ordinal))
        {
            // heap_corrupt's corrupt_heap has returned when main's HeapFree crashes; main is what is on the stack.
            scenarioAt = IndexOfFrameIn(frames, FunctionRange(dumpName, name));
            Assert.True(scenarioAt is >= 0 and <= 3, $"{name} is not within the first frames (at {scenarioAt})");
        }
        int mainAt = IndexOfFrameIn(frames, main, Math.Max(scenarioAt, 0));
        Assert.True(mainAt > scenarioAt, "main is not reached after the scenario function");
        Assert.True(overflow || mainAt <= 8, $"main is frame {mainAt}");
        // main is unwound to from a frame of the executable by its unwind data (heap_corrupt: from a frame in ntdll,
        // which has no unwind data in a normal dump, so by scanning).
        if (!dumpName.StartsWith("heap_corrupt", StringComparison.Ordinal)) Assert.Equal(FrameTrust.UnwindInfo, frames[mainAt].Trust);

        const ulong imageBase = 0x140000000;
        ulong start = ThreadStart(dumpName, tid);
        var (startBegin, startEnd) = PdataEntryStartingAt(ImagePathOf(dumpName), (uint)(start - imageBase));
        int startAt = IndexOfFrameIn(frames, (imageBase + startBegin, imageBase + startEnd), mainAt + 1);
        Assert.True(startAt > mainAt, $"the thread start function (start_address 0x{start:x}) is not reached");
        for (int k = mainAt + 1; k <= startAt; k++) Assert.Equal(FrameTrust.UnwindInfo, frames[k].Trust);
        // mainCRTStartup returns into kernel32 (BaseThreadInitThunk), found by its unwind data too.
        Assert.Equal("kernel32.dll", frames[startAt + 1].Module);
        Assert.Equal(FrameTrust.UnwindInfo, frames[startAt + 1].Trust);

        if (overflow)
        {
            // Every frame between the faulting one and main is the recursion, each unwound by unwind data.
            var recurse = FunctionRange(dumpName, "recurse");
            Assert.True(mainAt > 1000, $"only {mainAt} recursion frames");
            for (int k = 1; k < mainAt; k++)
            {
                Assert.InRange(frames[k].InstructionPointer, recurse.Start, recurse.End - 1);
                Assert.Equal(FrameTrust.UnwindInfo, frames[k].Trust);
            }
        }
    }

    /// <summary>null_call: RIP is 0 (the call went to NULL); [RSP] is the return into call_through_null, found as frame 1.</summary>
    [Theory]
    [InlineData("null_call_x64")]
    [InlineData("null_call_pdb_x64")]
    public void Wine_call_through_null_returns_into_the_calling_function(string dumpName)
    {
        using var dump = Dump.Open(TestData.WineDump(dumpName));
        var frames = dump.WalkExceptionStack(WineOptions());
        Print(frames);
        Assert.Equal(0UL, frames[0].InstructionPointer);
        Assert.Null(frames[0].Module);
        var caller = FunctionRange(dumpName, "call_through_null");
        Assert.InRange(frames[1].InstructionPointer, caller.Start, caller.End - 1);
        Assert.Equal(frames[0].ChildSP + 8, frames[1].ChildSP);
        Assert.Equal(FrameTrust.Scan, frames[1].Trust); // read at [RSP], checked to follow a call
        Assert.InRange(frames[2].InstructionPointer, FunctionRange(dumpName, "main").Start, FunctionRange(dumpName, "main").End - 1);
        Assert.Equal(FrameTrust.UnwindInfo, frames[2].Trust);
    }

    /// <summary>
    /// stack_bof: the return address was overwritten with 0x41414141, so RIP is in no module. Frame 0 is the context;
    /// the walk either scans (every frame up to the next one unwound by unwind data says Scan) or, without scanning,
    /// stops at once and says why.
    /// </summary>
    [Theory]
    [InlineData("stack_bof_x64")]
    [InlineData("stack_bof_pdb_x64")]
    public void Wine_smashed_stack_scans_or_stops_and_says_why(string dumpName)
    {
        using var dump = Dump.Open(TestData.WineDump(dumpName));
        var frames = dump.WalkExceptionStack(WineOptions());
        Print(frames);
        AssertWellFormed(frames, 0x41414141, null, StackWalkOptions.DefaultMaxFrames);
        Assert.Null(frames[0].Module);
        Assert.True(frames.Count > 1);
        Assert.Equal(FrameTrust.Scan, frames[1].Trust);
        // The scan lands in the executable's startup code, below the overwritten frames of main.
        Assert.Equal(dump.Modules[0].Name, frames[1].Module);

        var stopped = dump.WalkExceptionStack(new StackWalkOptions { FindImageFile = FindWineImage, UseScan = false });
        Assert.Single(stopped);
        Assert.Contains("0x41414141 is not in any module", stopped[0].StopReason);
        Assert.Contains("0x41414141 is not a frame on this stack", stopped[0].StopReason);
    }

    /// <summary>cpp_throw: the exception is raised in kernelbase (no unwind data in a normal dump): the walk scans to the
    /// throwing function (a return address the executable's code proves follows a call) instead of following RBP,
    /// which still holds throw_runtime_error's frame and would skip it.</summary>
    [Fact]
    public void Wine_cpp_throw_finds_the_thrower_below_the_stale_frame_pointer()
    {
        const string name = "cpp_throw_msvc_x64";
        using var dump = Dump.Open(TestData.WineDump(name));
        var frames = dump.WalkExceptionStack(WineOptions());
        Print(frames);
        Assert.Equal("kernelbase.dll", frames[0].Module);
        var thrower = FunctionRange(name, "throw_runtime_error");
        Assert.InRange(frames[1].InstructionPointer, thrower.Start, thrower.End - 1);
        Assert.Equal(FrameTrust.Scan, frames[1].Trust);
        Assert.Equal(FrameTrust.UnwindInfo, frames[2].Trust);
    }

    /// <summary>
    /// Every thread of every Wine dump walks without throwing; frame 0 is the thread's context and the invariants
    /// hold (SP increasing, ReturnAddress chain, a stop reason on the last frame).
    /// </summary>
    [Fact]
    public void Wine_every_thread_walks_well_formed()
    {
        foreach (string name in TestData.WineDumpNames())
        {
            using var dump = Dump.Open(TestData.WineDump(name));
            using var walker = new StackWalker(dump, WineOptions());
            foreach (var thread in dump.Threads)
            {
                var frames = walker.Walk(thread);
                AssertWellFormed(frames, thread.InstructionPointer, thread.StackPointer, StackWalkOptions.DefaultMaxFrames);
                Assert.True(frames.Count >= 2, $"{name} thread {thread.Id}: only frame 0 ({frames[0].StopReason})");
            }
        }
    }

    /// <summary>
    /// In the full-memory dump every image is in memory, Wine's builtin DLLs included: every thread unwinds by unwind
    /// data alone, through ntdll, kernelbase and kernel32, down to RtlUserThreadStart's return address of 0 — and the
    /// worker threads pass through the scenario's thread functions.
    /// </summary>
    [Fact]
    public void Wine_full_dump_unwinds_every_frame_by_unwind_data_from_memory()
    {
        const string name = "deadlock_cs_x64_full";
        using var dump = Dump.Open(TestData.WineDump(name));
        using var walker = new StackWalker(dump); // no image files: everything comes from the dump
        var scenario = TestData.Truth(name).GetProperty("from_scenario");
        var ab = FunctionRange(name, scenario.GetProperty("thread_AB_function").GetProperty("name").GetString()!);
        var ba = FunctionRange(name, scenario.GetProperty("thread_BA_function").GetProperty("name").GetString()!);
        int workers = 0;
        foreach (var thread in dump.Threads)
        {
            var frames = walker.Walk(thread);
            Print(frames);
            AssertWellFormed(frames, thread.InstructionPointer, thread.StackPointer, StackWalkOptions.DefaultMaxFrames);
            Assert.All(frames.Skip(1), f => Assert.Equal(FrameTrust.UnwindInfo, f.Trust));
            Assert.Equal("The return address is 0: the bottom of the stack.", frames[^1].StopReason);
            Assert.Equal("ntdll.dll", frames[^1].Module);
            Assert.Equal("kernel32.dll", frames[^2].Module);
            if (IndexOfFrameIn(frames, ab) > 0 || IndexOfFrameIn(frames, ba) > 0) workers++;
        }
        Assert.Equal(2, workers);
        Assert.Equal("dump", walker.Images.Get(dump.Modules.Single(m => m.Name == "ntdll.dll")).Source);
    }

    /// <summary>
    /// Wine's normal dumps hold no module headers, so their builtin DLLs have no function table; given image files
    /// for them (here: the images of the full-memory dump, written out as files), the normal dumps' threads unwind
    /// by unwind data through the DLLs as the full dump's do.
    /// </summary>
    [Fact]
    public void Wine_normal_dumps_unwind_through_the_dlls_given_their_image_files()
    {
        var folder = WineDllImages.Folder;
        string? Find(DumpModule m)
        {
            string path = Path.Combine(folder, $"{m.Name}.{m.TimeDateStamp:X8}{m.Size:X}");
            return File.Exists(path) ? path : FindWineImage(m);
        }
        foreach (string name in (string[])["waitchain_x64", "idle_x64", "cpp_throw_msvc_x64", "heap_corrupt_x64", "spin_x64"])
        {
            using var dump = Dump.Open(TestData.WineDump(name));
            using var walker = new StackWalker(dump, new StackWalkOptions { FindImageFile = Find });
            foreach (var thread in dump.Threads)
            {
                var frames = walker.Walk(thread);
                output.WriteLine($"{name} thread {thread.Id}:");
                Print(frames);
                AssertWellFormed(frames, thread.InstructionPointer, thread.StackPointer, StackWalkOptions.DefaultMaxFrames);
                Assert.All(frames.Skip(1), f => Assert.Equal(FrameTrust.UnwindInfo, f.Trust));
                Assert.Equal("The return address is 0: the bottom of the stack.", frames[^1].StopReason);
            }
            if (name == "cpp_throw_msvc_x64")
            {
                // Now the thrower's caller chain is exact: RaiseException, msvcrt's _CxxThrowException, the thrower.
                var frames = walker.Walk(dump.Exception!.ThreadId, dump.ExceptionContext!);
                Print(frames);
                Assert.Equal(["kernelbase.dll", "msvcrt.dll", "cpp_throw_msvc_x64.exe"], frames.Take(3).Select(f => f.Module!).ToArray());
                Assert.InRange(frames[2].InstructionPointer, FunctionRange(name, "throw_runtime_error").Start, FunctionRange(name, "throw_runtime_error").End - 1);
                Assert.All(frames.Skip(1), f => Assert.Equal(FrameTrust.UnwindInfo, f.Trust));
            }
        }
    }

    /// <summary>The images of Wine's builtin DLLs, copied out of the full-memory dump into files (sections at file offset = RVA).</summary>
    private static class WineDllImages
    {
        private static readonly Lazy<string> FolderLazy = new(Extract);
        public static string Folder => FolderLazy.Value;

        private static string Extract()
        {
            string folder = Directory.CreateTempSubdirectory("dumpshell-wine-dlls-").FullName;
            using var dump = Dump.Open(TestData.WineDump("deadlock_cs_x64_full"));
            foreach (var m in dump.Modules.Where(m => m.Name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)))
            {
                var image = new byte[m.Size];
                Assert.Equal((int)m.Size, dump.Memory.Read(m.BaseAddress, image));
                // Make the mapped image a valid file: each section's raw data where it lies in memory.
                int pe = BinaryPrimitives.ReadInt32LittleEndian(image.AsSpan(0x3C));
                int count = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(pe + 6));
                int table = pe + 24 + BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(pe + 20));
                for (int i = 0; i < count; i++)
                {
                    var h = image.AsSpan(table + 40 * i, 40);
                    uint virtualSize = BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
                    uint va = BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
                    BinaryPrimitives.WriteUInt32LittleEndian(h[16..], Math.Min(virtualSize, m.Size - va));
                    BinaryPrimitives.WriteUInt32LittleEndian(h[20..], va);
                }
                File.WriteAllBytes(Path.Combine(folder, $"{m.Name}.{m.TimeDateStamp:X8}{m.Size:X}"), image);
            }
            return folder;
        }
    }

    /// <summary>The exports of Wine's kernel32 and ntdll (images in the full dump) name the frames at the bottom of every thread.</summary>
    [Fact]
    public void Exports_of_wine_dlls_name_the_thread_start_frames()
    {
        using var dump = Dump.Open(TestData.WineDump("deadlock_cs_x64_full"));
        using var walker = new StackWalker(dump);
        var frames = walker.Walk(dump.Threads[0]);
        var kernel32 = walker.Images.Get(dump.Modules.Single(m => m.Name == "kernel32.dll"));
        var ntdll = walker.Images.Get(dump.Modules.Single(m => m.Name == "ntdll.dll"));
        Assert.NotNull(kernel32.Exports);
        Assert.Equal("kernel32.dll", kernel32.Exports!.DllName, ignoreCase: true);
        Assert.NotNull(kernel32.Exports.Find("BaseThreadInitThunk"));
        Assert.Equal("BaseThreadInitThunk", kernel32.Exports.NearestAtOrBelow((uint)frames[^2].Offset!.Value)!.Name);
        Assert.Equal("RtlUserThreadStart", ntdll.Exports!.NearestAtOrBelow((uint)frames[^1].Offset!.Value)!.Name);
        Assert.True(ntdll.Exports.Exports.Count > 1000);
        Assert.All(ntdll.Exports.Exports, e => Assert.True(e.Rva < dump.Modules.Single(m => m.Name == "ntdll.dll").Size));
        // Sorted by RVA.
        Assert.True(ntdll.Exports.Exports.Zip(ntdll.Exports.Exports.Skip(1)).All(p => p.First.Rva <= p.Second.Rva));
    }

    /// <summary>The executable's image file in the symbol store: its .pdata read through FileImageBytes matches the build's section table.</summary>
    [Fact]
    public void File_image_of_a_wine_executable_gives_its_function_table()
    {
        const string name = "av_null_write_x64";
        var build = TestData.Truth(name).GetProperty("from_build").GetProperty("pe");
        using var file = FileImageBytes.Open(ImagePathOf(name));
        Assert.NotNull(file);
        Assert.Equal((uint)Hex(build.GetProperty("time_date_stamp")), file!.Image.TimeDateStamp);
        Assert.Equal((uint)Hex(build.GetProperty("size_of_image")), file.Image.SizeOfImage);
        uint pdataSize = 0;
        foreach (var s in build.GetProperty("sections").EnumerateArray())
            if (s.GetProperty("name").GetString() == ".pdata") pdataSize = (uint)Hex(s.GetProperty("virtual_size"));
        var table = FunctionTable.TryRead(file.Image);
        Assert.NotNull(table);
        Assert.Equal((int)(pdataSize / 12), table!.Count);
        Assert.Empty(table.Problems);
        uint writeNull = (uint)Hex(TestData.Truth(name).GetProperty("from_scenario").GetProperty("faulting_function").GetProperty("rva"));
        var entry = table.Find(writeNull + 3);
        Assert.Equal(writeNull, entry!.Value.BeginAddress);
        var info = UnwindInfo.TryRead(file, entry.Value.UnwindData);
        Assert.NotNull(info);
        Assert.True(info!.IsComplete);
        Assert.Equal(5, info.FrameRegister); // gcc -fno-omit-frame-pointer: .seh_setframe %rbp
        // Code bytes: the exception address's instruction is in .text of the file as in the dump's 256-byte window.
        using var dump = Dump.Open(TestData.WineDump(name));
        ulong rip = dump.ExceptionContext!.InstructionPointer!.Value;
        var fromDump = new byte[16];
        var fromFile = new byte[16];
        Assert.Equal(16, dump.Memory.Read(rip, fromDump));
        Assert.Equal(16, file.Read((uint)(rip - 0x140000000), fromFile));
        Assert.Equal(fromDump, fromFile);
    }

    /// <summary>Without image files, the exception thread of a Wine normal dump still walks (the executable has no headers in memory).</summary>
    [Fact]
    public void Wine_dump_without_image_files_walks_by_frame_pointer_and_scan()
    {
        using var dump = Dump.Open(TestData.WineDump("av_null_write_x64"));
        using var walker = new StackWalker(dump);
        var frames = walker.Walk(dump.Exception!.ThreadId, dump.ExceptionContext!);
        Print(frames);
        AssertWellFormed(frames, dump.ExceptionContext!.InstructionPointer, null, StackWalkOptions.DefaultMaxFrames);
        Assert.Equal("dump (no headers)", walker.Images.Get(dump.Modules[0]).Source);
        Assert.DoesNotContain(frames, f => f.Trust == FrameTrust.UnwindInfo);
        var main = FunctionRange("av_null_write_x64", "main");
        Assert.InRange(frames[1].InstructionPointer, main.Start, main.End - 1); // gcc keeps RBP chains
        Assert.Equal(FrameTrust.FramePointer, frames[1].Trust);
    }

    /// <summary>.ecxr three ways: the parsed exception context, the exception's registers, and a CONTEXT read back from memory.</summary>
    [Fact]
    public void Exception_context_from_the_stream_the_registers_and_memory_give_the_same_walk()
    {
        using var dump = Dump.Open(TestData.WineDump("div_zero_x64"));
        var options = WineOptions();
        var fromStream = dump.WalkExceptionStack(options);
        var fromRegisters = dump.WalkStack(dump.Exception!.ThreadId,
            CpuContext.FromRegisters(dump.Architecture, dump.Exception.ContextRegisters!), options);
        Assert.Equal(fromStream.Select(f => (f.InstructionPointer, f.ChildSP, f.Trust)), fromRegisters.Select(f => (f.InstructionPointer, f.ChildSP, f.Trust)));
        Assert.True(fromStream.Count > 4);
    }

    // ================================================================== Breakpad / lldb corpus

    public static IEnumerable<object[]> CorpusDumps() =>
        TestData.AllSharedDumps().Where(p => !p.StartsWith("wine/", StringComparison.Ordinal)).Select(p => new object[] { p });

    /// <summary>Every corpus dump: walking the exception thread (or every thread) does not throw, and frame 0 is the context.</summary>
    [Theory]
    [MemberData(nameof(CorpusDumps))]
    public void Corpus_walks_start_at_the_context_and_are_well_formed(string path)
    {
        Dump dump;
        try { dump = Dump.Open(TestData.Shared(path)); }
        catch (Format.DumpFormatException) { return; } // the malformed ones that do not open
        using (dump)
        {
            var frames = dump.WalkExceptionStack(new StackWalkOptions { MaxFrames = 64 });
            Print(frames);
            if (dump.Exception is not null && dump.ExceptionContext is { } context && dump.Architecture is CpuArchitecture.X64 or CpuArchitecture.X86)
            {
                Assert.NotEmpty(frames);
                AssertWellFormed(frames, context.InstructionPointer, context.StackPointer, 64);
            }
            foreach (var thread in dump.Threads)
            {
                var walk = dump.WalkStack(thread, new StackWalkOptions { MaxFrames = 64 });
                AssertWellFormed(walk, thread.InstructionPointer, thread.StackPointer, 64);
            }
        }
    }

    /// <summary>minidump2 (x86, Windows XP): the 4 frames Breakpad's processor finds (minidump2.stackwalk.out), in order.</summary>
    [Fact]
    public void Breakpad_minidump2_x86_stack_has_the_documented_four_frames()
    {
        using var dump = Dump.Open(TestData.Shared("breakpad/minidump2.dmp"));
        var frames = dump.WalkExceptionStack();
        Print(frames);
        Assert.Equal([0x0040429eUL, 0x00404200, 0x004053ec, 0x7c816fd7], frames.Take(4).Select(f => f.InstructionPointer).ToArray());
        Assert.Equal(0x12fe84UL, frames[0].ChildSP);
        Assert.All(frames.Skip(1).Take(3), f => Assert.Contains(f.Trust, (FrameTrust[])[FrameTrust.FramePointer, FrameTrust.Scan]));
        Assert.Equal(["test_app.exe", "test_app.exe", "test_app.exe", "kernel32.dll"], frames.Take(4).Select(f => f.Module!).ToArray());
        Assert.Equal(4, frames[0].PointerSize);
    }

    /// <summary>fizzbuzz_no_heap (x86 under WOW64, Visual Studio): lldb's 6 PCs (TestMiniDump.py:103-109), in order.</summary>
    [Fact]
    public void Lldb_fizzbuzz_x86_stack_has_the_documented_pcs()
    {
        using var dump = Dump.Open(TestData.Shared("lldb/fizzbuzz_no_heap.dmp"));
        var frames = dump.WalkExceptionStack();
        Print(frames);
        ulong[] expected = [0x00164d14, 0x00167c79, 0x00167e6d, 0x7510336a, 0x77759882, 0x77759855];
        Assert.Equal(expected, frames.Take(expected.Length).Select(f => f.InstructionPointer).ToArray());
    }

    /// <summary>linux-x86_64 (Breakpad, Linux): 2 frames, crash() then _start (TestMiniDumpNew.py:145-154).</summary>
    [Fact]
    public void Lldb_linux_x86_64_stack_has_crash_then_start()
    {
        using var dump = Dump.Open(TestData.Shared("lldb/linux-x86_64.dmp"));
        var frames = dump.WalkExceptionStack();
        Print(frames);
        Assert.Equal(dump.ExceptionContext!.InstructionPointer, frames[0].InstructionPointer);
        Assert.Equal("linux-x86_64", frames[0].Module);
        // _start is the module's code that called crash(): found through the RBP chain, right after a call.
        Assert.Equal("linux-x86_64", frames[1].Module);
        Assert.Equal(FrameTrust.FramePointer, frames[1].Trust);
        Assert.InRange(frames[1].InstructionPointer, frames[0].InstructionPointer, frames[0].InstructionPointer + 0x40);
    }

    /// <summary>sigsegv (Windows x64, lldb): frame 0 is the faulting instruction (sigsegv.test:5-6).</summary>
    [Fact]
    public void Lldb_sigsegv_frame_zero_is_the_fault()
    {
        using var dump = Dump.Open(TestData.Shared("lldb/sigsegv.dmp"));
        var frames = dump.WalkExceptionStack();
        Assert.Equal(0x7ff7a13110d9UL, frames[0].InstructionPointer);
        Assert.Equal("sigsegv.exe", frames[0].Module);
        Assert.Equal("sigsegv.exe+0x10d9", frames[0].Symbol);
    }

    // ================================================================== synthetic x64 stacks

    private const ulong ImageBase = 0x180000000;
    private const ulong StackLow = 0x100000;
    private const int StackSize = 0x4000;
    private const ulong Sp0 = StackLow + 0x100; // frame 0's RSP
    private const uint FuncA = 0x1000;            // leaf: no RUNTIME_FUNCTION
    private const uint FuncB = 0x1100, FuncBEnd = 0x1200;
    private const uint FuncC = 0x1200, FuncCEnd = 0x1280;
    private const uint CallInB = 0x1120, CallInC = 0x1240;
    private const ulong SavedRbp = 0x0000_0000_00AB_CDE0;

    /// <summary>
    /// The standard shape: A (leaf, frame 0, IP in its body) was called from B at B+0x20 (E8 rel32); B was called from
    /// C at C+0x40 (FF 15, call [rip+x]); C's unwind data (UWOP_ALLOC_SMALL 8) leads to a return address of 0.
    /// Returns the image and the return addresses into B and C.
    /// </summary>
    private static (SynthImage Image, ulong RetB, ulong RetC) StandardImage()
    {
        var image = new SynthImage(ImageBase);
        image.Code(FuncA, Enumerable.Repeat((byte)0x90, 0x20).ToArray());
        image.Code(FuncB, Enumerable.Repeat((byte)0x90, 0x100).ToArray());
        image.Code(FuncC, Enumerable.Repeat((byte)0x90, 0x80).ToArray());
        uint retB = image.CallRel32(CallInB, FuncA);
        image.Code(CallInC, 0xFF, 0x15, 0x00, 0x30, 0x00, 0x00); // call [rip+0x3000]
        uint retC = CallInC + 6;
        image.Function(FuncC, FuncCEnd, image.Unwind(4, [Op(4, UnwindOpCode.AllocSmall, 0)]));
        return (image, image.Va(retB), image.Va(retC));
    }

    /// <summary>C's frame at <paramref name="sp"/>: its 8-byte allocation, then a return address of 0.</summary>
    private static void PutFrameC(SynthStack stack, ulong sp) => stack.Put(sp + 8, 0);

    private IReadOnlyList<StackFrame> WalkSynth(SynthImage image, SynthStack stack, Section context, StackWalkOptions? options = null,
        bool imageInMemory = true, IEnumerable<(ulong, byte[])>? extra = null)
    {
        using var files = new StackWalkDumpFiles();
        using var dump = files.Open(SynthStackDump.Builder(image, stack, context, imageInMemory, extra));
        var frames = dump.WalkStack(dump.Threads.Single(), options);
        Print(frames);
        return frames;
    }

    public static IEnumerable<object[]> UnwindOpCases() =>
        ((string[])["push_nonvol+alloc_small", "alloc_large_scaled", "alloc_large_unscaled", "set_fpreg", "save_nonvol",
            "save_nonvol_far", "save_xmm128", "push_machframe", "push_machframe_error_code", "epilog_v2_descriptors"])
        .Select(c => new object[] { c });

    /// <summary>
    /// Each unwind operation, as B's UNWIND_INFO: frame 1 (B, reached from the leaf A through [RSP]) unwinds to C with
    /// the expected stack pointer and restored RBP, and C unwinds to the return address 0.
    /// </summary>
    [Theory]
    [MemberData(nameof(UnwindOpCases))]
    public void Synthetic_unwind_operation(string op)
    {
        var (image, retB, retC) = StandardImage();
        var stack = new SynthStack(StackLow, StackSize);
        ulong p = Sp0 + 8; // B's RSP at its call
        ulong contextRbp = 0x5151;
        ulong expectedSp, expectedRbp = SavedRbp, expectedIp = retC;
        bool exactCallerIp = false;
        switch (op)
        {
            case "push_nonvol+alloc_small": // push rbp; sub rsp, 0x20
                image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 5)]));
                stack.Put(p + 0x20, SavedRbp);
                stack.Put(p + 0x28, retC);
                expectedSp = p + 0x30;
                break;
            case "alloc_large_scaled": // push rbp; sub rsp, 0x1000 (size/8 in the next slot)
                image.Function(FuncB, FuncBEnd, image.Unwind(8, [Op(8, UnwindOpCode.AllocLarge, 0), 0x1000 / 8, Op(1, UnwindOpCode.PushNonvol, 5)]));
                stack.Put(p + 0x1000, SavedRbp);
                stack.Put(p + 0x1008, retC);
                expectedSp = p + 0x1010;
                break;
            case "alloc_large_unscaled": // push rbp; sub rsp, 0x2008 (32-bit size in the next two slots)
                image.Function(FuncB, FuncBEnd, image.Unwind(8, [Op(8, UnwindOpCode.AllocLarge, 1), 0x2008, 0x0000, Op(1, UnwindOpCode.PushNonvol, 5)]));
                stack.Put(p + 0x2008, SavedRbp);
                stack.Put(p + 0x2010, retC);
                expectedSp = p + 0x2018;
                break;
            case "set_fpreg":
            {
                // push rbp; sub rsp, 0x40; lea rbp, [rsp+0x20]; then the body allocates 0x100 more (alloca): only
                // the frame register finds the frame.
                image.Function(FuncB, FuncBEnd, image.Unwind(10, [Op(10, UnwindOpCode.SetFpreg), Op(5, UnwindOpCode.AllocSmall, 7), Op(1, UnwindOpCode.PushNonvol, 5)],
                    frameRegister: 5, frameOffsetScaled: 2));
                ulong established = p + 0x100;
                contextRbp = established + 0x20;
                stack.Put(established + 0x40, SavedRbp);
                stack.Put(established + 0x48, retC);
                expectedSp = established + 0x50;
                break;
            }
            case "save_nonvol": // sub rsp, 0x48; mov [rsp+0x30], rbp
                image.Function(FuncB, FuncBEnd, image.Unwind(9, [Op(9, UnwindOpCode.SaveNonvol, 5), 0x30 / 8, Op(4, UnwindOpCode.AllocSmall, 8)]));
                stack.Put(p + 0x30, SavedRbp);
                stack.Put(p + 0x48, retC);
                expectedSp = p + 0x50;
                break;
            case "save_nonvol_far": // sub rsp, 0x1020; mov [rsp+0x1010], rbp (offset unscaled in two slots)
                image.Function(FuncB, FuncBEnd, image.Unwind(16, [Op(16, UnwindOpCode.SaveNonvolFar, 5), 0x1010, 0x0000, Op(7, UnwindOpCode.AllocLarge, 0), 0x1020 / 8]));
                stack.Put(p + 0x1010, SavedRbp);
                stack.Put(p + 0x1020, retC);
                expectedSp = p + 0x1028;
                break;
            case "save_xmm128": // sub rsp, 0x40; movdqa [rsp+0x20], xmm6; movdqa [rsp+0x30], xmm7 (far form): RSP only moves by the allocation
                image.Function(FuncB, FuncBEnd, image.Unwind(20, [Op(20, UnwindOpCode.SaveXmm128Far, 7), 0x30, 0x0000, Op(12, UnwindOpCode.SaveXmm128, 6), 0x20 / 16, Op(4, UnwindOpCode.AllocSmall, 7)]));
                stack.Put(p + 0x40, retC);
                expectedSp = p + 0x48;
                expectedRbp = contextRbp;
                break;
            case "push_machframe":
            case "push_machframe_error_code":
            {
                // B is an interrupt handler: the machine frame holds the interrupted RIP (the very first byte of C,
                // which follows B: looking it up as a return address, RIP-1, would find B) and RSP.
                int errorCode = op.EndsWith("error_code", StringComparison.Ordinal) ? 1 : 0;
                image.Function(FuncB, FuncBEnd, image.Unwind(1, [Op(1, UnwindOpCode.PushMachframe, errorCode)]));
                ulong frame = p + (ulong)(8 * errorCode);
                ulong oldRsp = StackLow + 0x3000;
                stack.Put(frame, image.Va(FuncC));
                stack.Put(frame + 8, 0x33);
                stack.Put(frame + 16, 0x246);
                stack.Put(frame + 24, oldRsp);
                stack.Put(frame + 32, 0x2B);
                // C at its first byte has run none of its prolog: its return address is at [RSP]; 8 bytes higher
                // (where the prolog's allocation would put it) lies a decoy.
                stack.Put(oldRsp, 0);
                stack.Put(oldRsp + 8, retB);
                expectedIp = image.Va(FuncC);
                expectedSp = oldRsp;
                expectedRbp = contextRbp;
                exactCallerIp = true;
                break;
            }
            case "epilog_v2_descriptors": // version 2: an epilog header (size 4, at the end) and one more epilog 0x30 before the end
                image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(4, UnwindOpCode.Epilog, 1), Op(0x30, UnwindOpCode.Epilog, 0),
                    Op(5, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 5)], version: 2));
                stack.Put(p + 0x20, SavedRbp);
                stack.Put(p + 0x28, retC);
                expectedSp = p + 0x30;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(op));
        }
        stack.Put(Sp0, retB);
        if (!exactCallerIp) PutFrameC(stack, expectedSp);

        var frames = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, contextRbp));
        Assert.Equal(3, frames.Count);
        Assert.Equal([FrameTrust.Context, FrameTrust.UnwindInfo, FrameTrust.UnwindInfo], frames.Select(f => f.Trust).ToArray());
        Assert.Equal(retB, frames[1].InstructionPointer); // A is a leaf: [RSP]
        Assert.Equal(p, frames[1].ChildSP);
        Assert.Equal(expectedIp, frames[2].InstructionPointer);
        Assert.Equal(expectedSp, frames[2].ChildSP);
        Assert.Equal(expectedRbp, frames[2].FramePointer);
        Assert.Equal("The return address is 0: the bottom of the stack.", frames[2].StopReason);
        Assert.Equal($"{SynthStackDump.ModuleName}+0x{expectedIp - ImageBase:x}", frames[2].Symbol);
    }

    /// <summary>
    /// Chained unwind info: B's code continues in a separate fragment (B2) whose UNWIND_INFO has UNW_FLAG_CHAININFO and
    /// the primary entry after its codes. The parent's prolog counts as run in full even though the IP's offset into
    /// B2 is smaller than the parent's code offsets; B2's own codes (a shrink-wrapped save of RBP) apply too. The
    /// .pdata entry for B2 may also be indirect (UnwindData | 1 naming another RUNTIME_FUNCTION), and chains nest.
    /// </summary>
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    public void Synthetic_chained_unwind_info(bool indirect, int depth)
    {
        var (image, _, retC) = StandardImage();
        const uint b1 = 0x1100, b1End = 0x1140, b2 = 0x1180, b2End = 0x11C0, b3 = 0x11C0, b3End = 0x1200;
        // Primary: push rbx at 1; sub rsp, 0x20 at 0x10 (a long prolog).
        uint primary = image.Unwind(0x10, [Op(0x10, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 3)]);
        image.Function(b1, b1End, primary);
        // B2: mov [rsp+0x10], rbp at 4 (offset from the fixed allocation's base), chained to B1.
        uint secondary = image.Unwind(4, [Op(4, UnwindOpCode.SaveNonvol, 5), 0x10 / 8], flags: UnwindInfo.FlagChainInfo, chained: (b1, b1End, primary));
        uint callFragment = b2;
        image.Function(b2, b2End, indirect ? image.RuntimeFunctionInXData(b2, b2End, secondary) | 1 : secondary);
        if (depth == 2)
        {
            // B3 chains to B2, which chains to B1: all codes of both parents apply.
            uint tertiary = image.Unwind(0, [], flags: UnwindInfo.FlagChainInfo, chained: (b2, b2End, secondary));
            image.Function(b3, b3End, tertiary);
            callFragment = b3;
        }
        uint retB = image.CallRel32(callFragment, FuncA); // the call is the fragment's first instruction: IP offset 5
        image.Code(retB, 0x90, 0x90);

        var stack = new SynthStack(StackLow, StackSize);
        ulong p = Sp0 + 8;
        stack.Put(Sp0, image.Va(retB));
        stack.Put(p + 0x10, SavedRbp);
        stack.Put(p + 0x20, 0x7777); // the pushed RBX
        stack.Put(p + 0x28, retC);
        PutFrameC(stack, p + 0x30);

        var frames = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0x5151));
        Assert.Equal(3, frames.Count);
        Assert.Equal(image.Va(retB), frames[1].InstructionPointer);
        Assert.Equal(retC, frames[2].InstructionPointer);
        Assert.Equal(p + 0x30, frames[2].ChildSP);
        Assert.Equal(SavedRbp, frames[2].FramePointer);
        Assert.Equal(FrameTrust.UnwindInfo, frames[2].Trust);
    }

    public static IEnumerable<object[]> EpilogCases() =>
        ((string[])["at_add", "at_pop", "at_ret", "at_lea", "tail_jmp", "tail_jmp_after_add"]).Select(c => new object[] { c });

    /// <summary>
    /// Frame 0 inside an epilog of E (push rbp; sub rsp, 0x28 ... add rsp, 0x28; pop rbp; ret): the rest of the
    /// epilog is simulated from the instructions at RIP, not the prolog's unwind codes (which would count the
    /// allocation or the push twice). Also the lea-rsp form (frame register functions) and tail calls (jmp out of
    /// the function in place of ret).
    /// </summary>
    [Theory]
    [MemberData(nameof(EpilogCases))]
    public void Synthetic_epilog(string where)
    {
        var (image, _, retC) = StandardImage();
        const uint e = 0x1100, eEnd = 0x1140, epilog = 0x1120;
        var stack = new SynthStack(StackLow, StackSize);
        ulong rip, rbp = 0x5151;
        ulong expectedSp;
        if (where == "at_lea")
        {
            // push rbp; sub rsp, 0x30; lea rbp, [rsp+0x20]  ...  lea rsp, [rbp+0x10]; pop rbp; ret
            image.Function(e, eEnd, image.Unwind(10, [Op(10, UnwindOpCode.SetFpreg), Op(5, UnwindOpCode.AllocSmall, 5), Op(1, UnwindOpCode.PushNonvol, 5)],
                frameRegister: 5, frameOffsetScaled: 2));
            image.Code(epilog, 0x48, 0x8D, 0x65, 0x10, 0x5D, 0xC3);
            rip = image.Va(epilog);
            ulong established = Sp0 - 0x80; // the body moved RSP further down; lea rsp restores it from RBP
            rbp = established + 0x20;
            stack.Put(established + 0x30, SavedRbp);
            stack.Put(established + 0x38, retC);
            expectedSp = established + 0x40;
            PutFrameC(stack, expectedSp);
            var frames0 = WalkSynth(image, stack, SynthStackDump.Context(rip, Sp0 - 0x100, rbp));
            Assert.Equal(retC, frames0[1].InstructionPointer);
            Assert.Equal(expectedSp, frames0[1].ChildSP);
            Assert.Equal(SavedRbp, frames0[1].FramePointer);
            Assert.Equal(FrameTrust.UnwindInfo, frames0[1].Trust);
            return;
        }

        image.Function(e, eEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 4), Op(1, UnwindOpCode.PushNonvol, 5)]));
        bool tail = where.StartsWith("tail", StringComparison.Ordinal);
        // add rsp, 0x28; pop rbp; ret   (or: jmp rel32 to A, outside E, in place of ret)
        image.Code(epilog, 0x48, 0x83, 0xC4, 0x28, 0x5D);
        if (tail)
        {
            image.Code(epilog + 5, 0xE9);
            BinaryPrimitives.WriteInt32LittleEndian(image.Bytes.AsSpan((int)epilog + 6), (int)FuncA - (int)(epilog + 10));
        }
        else image.Code(epilog + 5, 0xC3);
        ulong sp = Sp0;
        switch (where)
        {
            case "at_add" or "tail_jmp_after_add":
                rip = image.Va(epilog);
                stack.Put(sp + 0x28, SavedRbp);
                stack.Put(sp + 0x30, retC);
                expectedSp = sp + 0x38;
                break;
            case "at_pop":
                rip = image.Va(epilog + 4);
                stack.Put(sp, SavedRbp);
                stack.Put(sp + 8, retC);
                expectedSp = sp + 0x10;
                break;
            case "at_ret" or "tail_jmp":
                rip = image.Va(epilog + 5);
                stack.Put(sp, retC);
                rbp = SavedRbp; // already popped
                expectedSp = sp + 8;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(where));
        }
        PutFrameC(stack, expectedSp);
        var frames = WalkSynth(image, stack, SynthStackDump.Context(rip, sp, rbp));
        Assert.Equal(2, frames.Count); // E, then C, whose return address is 0
        Assert.Equal(retC, frames[1].InstructionPointer);
        Assert.Equal(expectedSp, frames[1].ChildSP);
        Assert.Equal(SavedRbp, frames[1].FramePointer);
        Assert.Equal(FrameTrust.UnwindInfo, frames[1].Trust);
        Assert.Equal("The return address is 0: the bottom of the stack.", frames[1].StopReason);
    }

    /// <summary>
    /// A leaf function (no RUNTIME_FUNCTION in a module that has a function table): its return address is at [RSP].
    /// A frame 0 in B's prolog (before its push) is handled by the offset check: only the codes already run are undone.
    /// </summary>
    [Fact]
    public void Synthetic_leaf_and_prolog()
    {
        var (image, retB, retC) = StandardImage();
        // B: push rbp (offset 1); sub rsp, 0x20 (offset 5).
        image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 5)]));
        var stack = new SynthStack(StackLow, StackSize);
        // Frame 0 at B+1: the push has run, the sub has not. [RSP] = saved RBP, then the return into C.
        stack.Put(Sp0, SavedRbp);
        stack.Put(Sp0 + 8, retC);
        PutFrameC(stack, Sp0 + 0x10);
        var frames = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncB + 1), Sp0, 0x5151));
        Assert.Equal(retC, frames[1].InstructionPointer);
        Assert.Equal(Sp0 + 0x10, frames[1].ChildSP);
        Assert.Equal(SavedRbp, frames[1].FramePointer);

        // The leaf A: [RSP] is the return into B.
        stack = new SynthStack(StackLow, StackSize);
        stack.Put(Sp0, retB);
        stack.Put(Sp0 + 8 + 0x20, SavedRbp);
        stack.Put(Sp0 + 8 + 0x28, retC);
        PutFrameC(stack, Sp0 + 8 + 0x30);
        frames = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA), Sp0, 0x5151));
        Assert.Equal(retB, frames[1].InstructionPointer);
        Assert.Equal(Sp0 + 8, frames[1].ChildSP);
        Assert.Equal(FrameTrust.UnwindInfo, frames[1].Trust);
        Assert.Equal(retB, frames[0].ReturnAddress);
    }

    /// <summary>
    /// Scanning (a module without unwind data and no frame pointer): stack slots are skipped unless they point into
    /// an executable section right after a call — a pointer into .data, a .text address not after a call, and an
    /// address outside every module are passed over; the E8 call and the FF 15 call sites are found (trust Scan).
    /// </summary>
    [Fact]
    public void Synthetic_scan_accepts_only_return_addresses_after_calls()
    {
        var (image, retB, retC) = StandardImage();
        image.WithExceptionDirectory = false;
        var stack = new SynthStack(StackLow, StackSize);
        stack.Put(Sp0, image.Va(SynthImage.Data + 0x10));   // data, not code
        stack.Put(Sp0 + 8, image.Va(FuncB + 0x10));          // code, not after a call (nops before it)
        stack.Put(Sp0 + 0x10, 0x7FFE0000);                   // no module
        stack.Put(Sp0 + 0x18, retB);                         // after E8 rel32
        stack.Put(Sp0 + 0x20, image.Va(CallInC + 3));        // in the middle of the FF 15 call: no call ends there
        stack.Put(Sp0 + 0x28, retC);                         // after FF 15 disp32
        var frames = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0));
        Assert.Equal([image.Va(FuncA + 4), retB, retC], frames.Select(f => f.InstructionPointer).ToArray());
        Assert.Equal([FrameTrust.Context, FrameTrust.Scan, FrameTrust.Scan], frames.Select(f => f.Trust).ToArray());
        Assert.Equal(Sp0 + 0x20, frames[1].ChildSP);
        Assert.Equal(Sp0 + 0x30, frames[2].ChildSP);
        Assert.Contains("no unwind data for synth.dll", frames[2].StopReason, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("the stack scan", frames[2].StopReason);

        // Without the code (the image not in the dump, no file), the headers are unknown: the scan takes an
        // in-module value past the header page, unless ScanWithoutCode is off.
        var noCode = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0), imageInMemory: false);
        Assert.Equal(image.Va(SynthImage.Data + 0x10), noCode[1].InstructionPointer);
        var strict = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0),
            new StackWalkOptions { ScanWithoutCode = false }, imageInMemory: false);
        Assert.Single(strict);
    }

    /// <summary>The RBP chain where a module has no unwind data: each frame's RBP points at the saved RBP with the return address above it.</summary>
    [Fact]
    public void Synthetic_frame_pointer_chain()
    {
        var (image, retB, retC) = StandardImage();
        image.WithExceptionDirectory = false;
        var stack = new SynthStack(StackLow, StackSize);
        ulong fp1 = Sp0 + 0x20, fp2 = Sp0 + 0x60;
        stack.Put(fp1, fp2);
        stack.Put(fp1 + 8, retB);
        stack.Put(fp2, 0);
        stack.Put(fp2 + 8, retC);
        var frames = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, fp1));
        Assert.Equal([image.Va(FuncA + 4), retB, retC], frames.Select(f => f.InstructionPointer).ToArray());
        Assert.Equal([FrameTrust.Context, FrameTrust.FramePointer, FrameTrust.FramePointer], frames.Select(f => f.Trust).ToArray());
        Assert.Equal([Sp0, fp1 + 16, fp2 + 16], frames.Select(f => f.ChildSP).ToArray());
        Assert.Equal([fp1, fp2, 0UL], frames.Select(f => f.FramePointer!.Value).ToArray());
        Assert.Contains("rbp 0x0 is not a frame on this stack", frames[2].StopReason);

        // With frame pointers off, the same stack is scanned.
        var scanned = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, fp1), new StackWalkOptions { UseFramePointer = false });
        Assert.Equal([image.Va(FuncA + 4), retB, retC], scanned.Select(f => f.InstructionPointer).ToArray());
        Assert.All(scanned.Skip(1), f => Assert.Equal(FrameTrust.Scan, f.Trust));
    }

    /// <summary>The frame limit and the walk's stop reasons for a stack pointer that would not grow.</summary>
    [Fact]
    public void Synthetic_frame_limit_and_non_increasing_stack_pointer()
    {
        var (image, retB, retC) = StandardImage();
        image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 5)]));
        var stack = new SynthStack(StackLow, StackSize);
        stack.Put(Sp0, retB);
        stack.Put(Sp0 + 8 + 0x20, SavedRbp);
        stack.Put(Sp0 + 8 + 0x28, retC);
        PutFrameC(stack, Sp0 + 8 + 0x30);
        var limited = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0), new StackWalkOptions { MaxFrames = 2 });
        Assert.Equal(2, limited.Count);
        Assert.Equal("Stopped at the frame limit (2).", limited[1].StopReason);

        // A machine frame whose old RSP is lower than the frame: rejected, and nothing else finds a caller.
        var image2 = StandardImage().Image;
        image2.Function(FuncB, FuncBEnd, image2.Unwind(1, [Op(1, UnwindOpCode.PushMachframe, 0)]));
        var stack2 = new SynthStack(StackLow, StackSize);
        stack2.Put(Sp0, image2.Va(CallInB + 5));
        stack2.Put(Sp0 + 8, image2.Va(FuncC));
        stack2.Put(Sp0 + 8 + 24, StackLow + 0x10); // old RSP below the current one
        var frames = WalkSynth(image2, stack2, SynthStackDump.Context(image2.Va(FuncA + 4), Sp0, 0), new StackWalkOptions { UseScan = false });
        Assert.Equal(2, frames.Count);
        Assert.Contains("does not increase", frames[1].StopReason);
    }

    /// <summary>
    /// .ecxr and .cxr on a synthetic dump: the exception stream's context, and a CONTEXT record placed in memory, each
    /// start a walk at their own registers (the thread's own context is elsewhere).
    /// </summary>
    [Fact]
    public void Synthetic_exception_context_and_context_record_in_memory()
    {
        var (image, retB, retC) = StandardImage();
        image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 5)]));
        var stack = new SynthStack(StackLow, StackSize);
        stack.Put(Sp0, retB);
        stack.Put(Sp0 + 8 + 0x20, SavedRbp);
        stack.Put(Sp0 + 8 + 0x28, retC);
        PutFrameC(stack, Sp0 + 8 + 0x30);
        var exceptionContext = SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0x5151);
        const ulong recordAt = 0x300000;
        var record = new Amd64Context { Rip = image.Va(FuncA + 6), Rsp = Sp0, Rbp = 0x6161 }.ToBytes();
        var builder = SynthStackDump.Builder(image, stack, SynthStackDump.Context(image.Va(FuncC + 0x10), StackLow + 0x3800, 0),
            extraMemory: [(recordAt, record)],
            exception: new ExceptionSpec { ThreadId = SynthStackDump.ThreadId, ExceptionCode = 0xC0000005, ExceptionAddress = image.Va(FuncA + 4), Context = exceptionContext });
        using var files = new StackWalkDumpFiles();
        using var dump = files.Open(builder);

        var ecxr = dump.WalkExceptionStack();
        Print(ecxr);
        Assert.Equal([image.Va(FuncA + 4), retB, retC], ecxr.Select(f => f.InstructionPointer).ToArray());
        Assert.Equal(SynthStackDump.ThreadId, ecxr[0].ThreadId);

        var cxr = dump.ReadContext(recordAt);
        Assert.NotNull(cxr);
        Assert.Equal(0x6161UL, cxr!.FramePointer);
        var fromRecord = dump.WalkStack(SynthStackDump.ThreadId, cxr);
        Assert.Equal([image.Va(FuncA + 6), retB, retC], fromRecord.Select(f => f.InstructionPointer).ToArray());
        Assert.Null(dump.ReadContext(0x900000)); // not in the dump
    }

    /// <summary>
    /// Hostile unwind data never throws, hangs or over-allocates: a record chained to itself, an indirect .pdata entry
    /// naming itself, a code count running past the data, an unknown version, an allocation that throws RSP off the
    /// stack. Each walk ends (falling back to scanning, which finds the return into C) and says why where it stops.
    /// </summary>
    [Theory]
    [InlineData("self_chain")]
    [InlineData("self_indirect")]
    [InlineData("codes_past_end")]
    [InlineData("bad_version")]
    [InlineData("huge_alloc")]
    [InlineData("op_past_array")]
    public void Synthetic_hostile_unwind_data(string kind)
    {
        var (image, retB, retC) = StandardImage();
        switch (kind)
        {
            case "self_chain":
            {
                uint at = image.Unwind(0, [], flags: UnwindInfo.FlagChainInfo, chained: (FuncB, FuncBEnd, 0));
                image.U32(at + 4 + 8, at); // the chained entry's UnwindData: the record itself
                image.Function(FuncB, FuncBEnd, at);
                break;
            }
            case "self_indirect":
            {
                uint at = image.RuntimeFunctionInXData(FuncB, FuncBEnd, 0);
                image.U32(at + 8, at | 1);
                image.Function(FuncB, FuncBEnd, at | 1);
                break;
            }
            case "codes_past_end":
                // A record at the image's last bytes claiming 255 codes: one slot is there.
                image.Code(SynthImage.Size - 6, 0x01, 0x05, 0xFF, 0x00, 0x05, 0x32);
                image.Function(FuncB, FuncBEnd, SynthImage.Size - 6);
                break;
            case "bad_version":
                image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3)], version: 5));
                break;
            case "huge_alloc":
                image.Function(FuncB, FuncBEnd, image.Unwind(8, [Op(8, UnwindOpCode.AllocLarge, 1), 0xFFF0, 0xFFFF]));
                break;
            case "op_past_array":
                image.Function(FuncB, FuncBEnd, image.Unwind(8, [Op(8, UnwindOpCode.AllocLarge, 1)]));
                break;
        }
        var stack = new SynthStack(StackLow, StackSize);
        stack.Put(Sp0, retB);
        stack.Put(Sp0 + 0x40, retC);
        PutFrameC(stack, Sp0 + 0x48);
        var frames = WalkSynth(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0));
        Assert.Equal(retB, frames[1].InstructionPointer);
        Assert.Equal(retC, frames[2].InstructionPointer);
        Assert.Equal(FrameTrust.Scan, frames[2].Trust);
        AssertWellFormed(frames, image.Va(FuncA + 4), Sp0, StackWalkOptions.DefaultMaxFrames);
    }

    /// <summary>x86: the EBP chain, then a scan that checks the call before each candidate in the code the dump holds.</summary>
    [Fact]
    public void Synthetic_x86_ebp_chain_then_scan()
    {
        const ulong baseAddress = 0x400000;
        var image = new SynthImage(baseAddress, pe64: false) { WithExceptionDirectory = false };
        image.Code(FuncA, Enumerable.Repeat((byte)0x90, 0x20).ToArray());
        image.Code(FuncB, Enumerable.Repeat((byte)0x90, 0x100).ToArray());
        image.Code(FuncC, Enumerable.Repeat((byte)0x90, 0x80).ToArray());
        uint retB = image.CallRel32(CallInB, FuncA);
        image.Code(CallInC, 0xFF, 0x55, 0x08); // call [ebp+8]
        uint retC = CallInC + 3;
        var stack = new SynthStack(StackLow, StackSize);
        uint esp = (uint)Sp0, ebp = (uint)Sp0 + 0x10;
        stack.Put32(ebp, 0);                                  // B's frame: no saved EBP above (end of the chain)
        stack.Put32(ebp + 4, (uint)image.Va(retB));
        stack.Put32(ebp + 8, (uint)image.Va(FuncB + 0x10));   // not after a call: skipped by the scan
        stack.Put32(ebp + 12, (uint)image.Va(retC));
        var context = new X86Context { Eip = (uint)image.Va(FuncA + 4), Esp = esp, Ebp = ebp }.ToSection();
        using var files = new StackWalkDumpFiles();
        using var dump = files.Open(SynthStackDump.Builder(image, stack, context, x86: true));
        var frames = dump.WalkStack(dump.Threads.Single());
        Print(frames);
        Assert.Equal([image.Va(FuncA + 4), image.Va(retB), image.Va(retC)], frames.Select(f => f.InstructionPointer).ToArray());
        Assert.Equal([FrameTrust.Context, FrameTrust.FramePointer, FrameTrust.Scan], frames.Select(f => f.Trust).ToArray());
        Assert.Equal((ulong)ebp + 8, frames[1].ChildSP);
        Assert.Equal((ulong)ebp + 16, frames[2].ChildSP);
        Assert.All(frames, f => Assert.Equal(4, f.PointerSize));
    }

    /// <summary>The x86 frame-data seam: a source that knows B's frame is asked first and its result labelled UnwindInfo.</summary>
    [Fact]
    public void Synthetic_x86_frame_data_source_is_used_first()
    {
        const ulong baseAddress = 0x400000;
        var image = new SynthImage(baseAddress, pe64: false) { WithExceptionDirectory = false };
        image.Code(FuncA, Enumerable.Repeat((byte)0x90, 0x20).ToArray());
        uint retB = image.CallRel32(CallInB, FuncA);
        var stack = new SynthStack(StackLow, StackSize);
        uint esp = (uint)Sp0;
        stack.Put32(esp + 0x18, (uint)image.Va(retB)); // FPO frame: 0x18 bytes of locals, no EBP
        var context = new X86Context { Eip = (uint)image.Va(FuncA + 4), Esp = esp, Ebp = 0 }.ToSection();
        using var files = new StackWalkDumpFiles();
        using var dump = files.Open(SynthStackDump.Builder(image, stack, context, x86: true));
        var source = new FpoSource();
        var frames = dump.WalkStack(dump.Threads.Single(), new StackWalkOptions { X86FrameData = source, UseScan = false });
        Print(frames);
        Assert.Equal(image.Va(retB), frames[1].InstructionPointer);
        Assert.Equal(FrameTrust.UnwindInfo, frames[1].Trust);
        Assert.Equal((ulong)esp + 0x1C, frames[1].ChildSP);
        Assert.Equal(FuncA + 4, source.Requests[0].Rva);
        Assert.False(source.Requests[0].IsReturnAddress);
        Assert.True(source.Requests[1].IsReturnAddress);
    }

    private sealed class FpoSource : IX86FrameDataSource
    {
        public List<X86UnwindRequest> Requests { get; } = [];

        public bool TryUnwind(X86UnwindRequest request, out X86Registers caller)
        {
            Requests.Add(request);
            caller = default;
            if (request.Rva is < FuncA or >= FuncA + 0x20) return false;
            uint? ret = request.ReadUInt32(request.Registers.Esp + 0x18UL);
            if (ret is null) return false;
            caller = request.Registers with { Eip = ret.Value, Esp = request.Registers.Esp + 0x1C };
            return true;
        }
    }

    // ================================================================== PE readers

    private sealed class ArrayImage(byte[] bytes) : IImageBytes
    {
        public int Read(uint rva, Span<byte> buffer)
        {
            if (rva >= bytes.Length) return 0;
            int n = (int)Math.Min((uint)buffer.Length, (uint)bytes.Length - rva);
            bytes.AsSpan((int)rva, n).CopyTo(buffer);
            return n;
        }
    }

    /// <summary>Every UNWIND_CODE operation decodes with its operand in bytes and its slot count; version 2 epilog descriptors too.</summary>
    [Fact]
    public void UnwindInfo_decodes_every_operation()
    {
        var image = new SynthImage(ImageBase);
        uint v1 = image.Unwind(0x30,
        [
            Op(0x30, UnwindOpCode.PushMachframe, 1),
            Op(0x2C, UnwindOpCode.SaveXmm128Far, 7), 0x0010, 0x0002,
            Op(0x28, UnwindOpCode.SaveXmm128, 6), 0x0003,
            Op(0x24, UnwindOpCode.SaveNonvolFar, 3), 0x0008, 0x0001,
            Op(0x20, UnwindOpCode.SaveNonvol, 6), 0x0005,
            Op(0x1C, UnwindOpCode.SetFpreg),
            Op(0x18, UnwindOpCode.AllocLarge, 1), 0x0008, 0x0010,
            Op(0x10, UnwindOpCode.AllocLarge, 0), 0x0100,
            Op(0x08, UnwindOpCode.AllocSmall, 15),
            Op(0x02, UnwindOpCode.PushNonvol, 12),
        ], frameRegister: 5, frameOffsetScaled: 3, flags: UnwindInfo.FlagExceptionHandler);
        image.U32(v1 + 4 + 2 * 20, 0x1234); // the handler after the code array (19 slots, padded to 20)
        var bytes = new ArrayImage(image.Build());
        var info = UnwindInfo.TryRead(bytes, v1)!;
        Assert.True(info.IsComplete, info.Problem);
        Assert.Equal(1, info.Version);
        Assert.Equal(0x30, info.SizeOfProlog);
        Assert.Equal(5, info.FrameRegister);
        Assert.Equal(48u, info.FrameOffset);
        Assert.Equal(0x1234u, info.HandlerRva);
        Assert.Null(info.Chained);
        (UnwindOpCode Op, int Reg, uint Value, int Slots)[] expected =
        [
            (UnwindOpCode.PushMachframe, 1, 1, 1), (UnwindOpCode.SaveXmm128Far, 7, 0x20010, 3), (UnwindOpCode.SaveXmm128, 6, 0x30, 2),
            (UnwindOpCode.SaveNonvolFar, 3, 0x10008, 3), (UnwindOpCode.SaveNonvol, 6, 0x28, 2), (UnwindOpCode.SetFpreg, 0, 0, 1),
            (UnwindOpCode.AllocLarge, 1, 0x100008, 3), (UnwindOpCode.AllocLarge, 0, 0x800, 2), (UnwindOpCode.AllocSmall, 15, 128, 1),
            (UnwindOpCode.PushNonvol, 12, 0, 1),
        ];
        Assert.Equal(expected, info.Codes.Select(c => (c.Op, c.Register, c.Value, (int)c.Slots)).ToArray());

        uint v2 = image.Unwind(4, [Op(6, UnwindOpCode.Epilog, 1), Op(0x34, UnwindOpCode.Epilog, 0x1), Op(0, UnwindOpCode.Epilog, 0), Op(4, UnwindOpCode.AllocSmall, 4)], version: 2);
        var info2 = UnwindInfo.TryRead(new ArrayImage(image.Build()), v2)!;
        Assert.True(info2.IsComplete, info2.Problem);
        Assert.Equal((byte?)6, info2.EpilogSize);
        Assert.True(info2.EpilogAtEnd);
        Assert.Equal([0x134u], info2.EpilogOffsetsFromEnd.ToArray()); // the zero entry is padding
        Assert.Equal(4, info2.Codes.Count);

        // Chained: the parent entry follows the (padded) code array.
        uint chained = image.Unwind(0, [Op(3, UnwindOpCode.SaveNonvol, 3), 2, Op(1, UnwindOpCode.PushNonvol, 5)], flags: UnwindInfo.FlagChainInfo, chained: (0x1100, 0x1140, v1));
        var info3 = UnwindInfo.TryRead(new ArrayImage(image.Build()), chained)!;
        Assert.True(info3.IsChained);
        Assert.Equal(new RuntimeFunction(0x1100, 0x1140, v1), info3.Chained);
    }

    /// <summary>Damaged records: cut short, an operation needing more slots than remain, an undefined operation, version 0/3+.</summary>
    [Fact]
    public void UnwindInfo_rejects_or_marks_damaged_records()
    {
        byte[] Record(params byte[] b) => b;
        Assert.Null(UnwindInfo.TryRead(new ArrayImage(Record(0x00, 0, 0, 0)), 0)); // version 0
        Assert.Null(UnwindInfo.TryRead(new ArrayImage(Record(0x03, 0, 0, 0)), 0)); // version 3
        Assert.Null(UnwindInfo.TryRead(new ArrayImage(Record(0x01, 0, 0)), 0));    // no full header
        var cut = UnwindInfo.TryRead(new ArrayImage(Record(0x01, 4, 200, 0, 0x04, 0x32)), 0)!; // 200 codes, 1 there
        Assert.False(cut.IsComplete);
        Assert.Single(cut.Codes);
        var overrun = UnwindInfo.TryRead(new ArrayImage(Record(0x01, 4, 1, 0, 0x04, 0x11, 0, 0)), 0)!; // ALLOC_LARGE/1 needs 3 slots
        Assert.False(overrun.IsComplete);
        Assert.Empty(overrun.Codes);
        var undefined = UnwindInfo.TryRead(new ArrayImage(Record(0x01, 4, 2, 0, 0x04, 0x0B, 0x04, 0x32)), 0)!; // op 11
        Assert.False(undefined.IsComplete);
        var missingChain = UnwindInfo.TryRead(new ArrayImage(Record(0x01 | 0x04 << 3, 0, 0, 0)), 0)!;
        Assert.True(missingChain.IsChained);
        Assert.False(missingChain.IsComplete);
        Assert.Null(missingChain.Chained);
        // Never throws for any 8 bytes at any place.
        var random = new Random(7);
        var noise = new byte[4096];
        random.NextBytes(noise);
        for (uint at = 0; at < noise.Length; at += 3) _ = UnwindInfo.TryRead(new ArrayImage(noise), at);
    }

    /// <summary>The function table: binary search, an unsorted table sorted, empty entries dropped, capped reads of a hostile directory.</summary>
    [Fact]
    public void FunctionTable_finds_sorts_and_bounds()
    {
        var table = FunctionTable.FromEntries([new(0x3000, 0x3100, 1), new(0x1000, 0x1080, 2), new(0x2000, 0x2000, 3), new(0x1100, 0x1200, 4)]);
        Assert.Equal(3, table.Count);
        Assert.Contains(table.Problems, p => p.Contains("not sorted"));
        Assert.Contains(table.Problems, p => p.Contains("empty"));
        Assert.Equal(2u, table.Find(0x1000)!.Value.UnwindData);
        Assert.Equal(2u, table.Find(0x107F)!.Value.UnwindData);
        Assert.Null(table.Find(0x1080));
        Assert.Equal(4u, table.Find(0x11FF)!.Value.UnwindData);
        Assert.Equal(1u, table.Find(0x3000)!.Value.UnwindData);
        Assert.Null(table.Find(0x0FFF));
        Assert.Null(table.Find(0x3100));
        Assert.Null(table.Find(uint.MaxValue));

        // A directory declaring 0xFFFFFFF0 bytes over an image of 0x5000: only what is there is read.
        var image = new SynthImage(ImageBase);
        image.Function(0x1000, 0x1010, 0x2000);
        var built = image.Build();
        int opt = 0x84 + 20;
        BinaryPrimitives.WriteUInt32LittleEndian(built.AsSpan(opt + 112 + 3 * 8 + 4), 0xFFFFFFF0);
        var pe = PeImage.TryParse(new ArrayImage(built))!;
        var hostile = FunctionTable.TryRead(pe)!;
        Assert.True(hostile.Count <= (SynthImage.Size - SynthImage.PData) / 12);
        Assert.Contains(hostile.Problems, p => p.Contains("could be read") || p.Contains("declares"));
        Assert.Equal(0x1000u, hostile.Find(0x1008)!.Value.BeginAddress);
    }

    /// <summary>The export directory: names, ordinals, forwarders left out, nearest export, hostile counts capped.</summary>
    [Fact]
    public void ExportTable_reads_names_ordinals_and_skips_forwarders()
    {
        var image = new SynthImage(ImageBase);
        const uint dir = 0x2800;
        // Export directory: Name, Base 5, 4 functions, 3 names.
        image.U32(dir + 12, dir + 0x100);
        image.U32(dir + 16, 5);
        image.U32(dir + 20, 4);
        image.U32(dir + 24, 3);
        image.U32(dir + 28, dir + 0x40);
        image.U32(dir + 32, dir + 0x60);
        image.U32(dir + 36, dir + 0x80);
        uint[] functions = [0x1100, 0x1000, dir + 0x140, 0x1200]; // [2] is a forwarder (inside the directory)
        for (int i = 0; i < 4; i++) image.U32(dir + 0x40 + 4 * (uint)i, functions[i]);
        uint[] names = [dir + 0x110, dir + 0x120, dir + 0x130];   // Alpha, Beta, Gamma (sorted)
        for (int i = 0; i < 3; i++) image.U32(dir + 0x60 + 4 * (uint)i, names[i]);
        ushort[] ordinals = [1, 0, 2];                             // Alpha -> 0x1000, Beta -> 0x1100, Gamma -> forwarder
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteUInt16LittleEndian(image.Bytes.AsSpan((int)(dir + 0x80 + 2 * (uint)i)), ordinals[i]);
        void Ascii(uint at, string s) => image.Code(at, [.. System.Text.Encoding.ASCII.GetBytes(s), 0]);
        Ascii(dir + 0x100, "synth.dll");
        Ascii(dir + 0x110, "Alpha");
        Ascii(dir + 0x120, "Beta");
        Ascii(dir + 0x130, "Gamma");
        Ascii(dir + 0x140, "OTHER.Function");
        image.ExportDirectory = (dir, 0x200);
        var pe = PeImage.TryParse(new ArrayImage(image.Build()))!;
        var exports = ExportTable.TryRead(pe)!;
        Assert.Equal("synth.dll", exports.DllName);
        Assert.Equal(5u, exports.OrdinalBase);
        Assert.Equal(new (string?, uint, uint)[] { ("Alpha", 6u, 0x1000u), ("Beta", 5u, 0x1100u), (null, 8u, 0x1200u) },
            exports.Exports.Select(e => (e.Name, e.Ordinal, e.Rva)).ToArray());
        Assert.Null(exports.Find("Gamma"));
        Assert.Equal("Beta", exports.NearestAtOrBelow(0x11FF)!.Name);
        Assert.Null(exports.NearestAtOrBelow(0xFFF));

        // Hostile counts: capped, and only what is readable is kept.
        image.U32(dir + 20, 0xFFFFFFFF);
        image.U32(dir + 24, 0xFFFFFFFF);
        var hostile = ExportTable.TryRead(PeImage.TryParse(new ArrayImage(image.Build()))!)!;
        Assert.Contains(hostile.Problems, p => p.Contains("NumberOfFunctions"));
        Assert.True(hostile.Exports.Count < ExportTable.MaxExports);
    }

    /// <summary>FileImageBytes maps RVAs through the section table of a file laid out unlike memory; reads stop where the file does.</summary>
    [Fact]
    public void FileImageBytes_reads_a_file_as_the_loader_maps_it()
    {
        var (image, _, _) = StandardImage();
        image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3)]));
        var mapped = image.Build();
        var folder = Directory.CreateTempSubdirectory("dumpshell-fileimage-");
        try
        {
            string path = Path.Combine(folder.FullName, "synth.dll");
            File.WriteAllBytes(path, image.BuildFile());
            using var file = FileImageBytes.Open(path)!;
            Assert.Equal(SynthImage.TimeDateStamp, file.Image.TimeDateStamp);
            var buffer = new byte[SynthImage.Size];
            // The headers (SizeOfHeaders 0x400), then a gap the file does not hold, then the four sections.
            Assert.Equal(0x400, file.Read(0, buffer));
            Assert.Equal(mapped.AsSpan(0, 0x400).ToArray(), buffer.AsSpan(0, 0x400).ToArray());
            Assert.Equal(0x4000, file.Read(0x1000, buffer.AsSpan(0x1000)));
            Assert.Equal(mapped.AsSpan(0x1000).ToArray(), buffer.AsSpan(0x1000).ToArray());
            Assert.Equal(0, file.Read(SynthImage.Size, buffer.AsSpan(0, 4)));
            Assert.Equal(0, file.Read(0x800, buffer.AsSpan(0, 4))); // between the headers and .text: not in the file
            Assert.NotNull(FunctionTable.TryRead(file.Image));
            Assert.Null(FileImageBytes.Open(Path.Combine(folder.FullName, "missing.dll")));
            File.WriteAllBytes(Path.Combine(folder.FullName, "junk.dll"), [1, 2, 3]);
            Assert.Null(FileImageBytes.Open(Path.Combine(folder.FullName, "junk.dll")));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The image provider: with the image only as a file, frames unwind by its unwind data ("dump+file"); a file whose
    /// TimeDateStamp does not match the module's is refused (and the walk falls back).
    /// </summary>
    [Fact]
    public void ImageProvider_uses_matching_image_files_only()
    {
        var (image, retB, retC) = StandardImage();
        image.Function(FuncB, FuncBEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 5)]));
        var stack = new SynthStack(StackLow, StackSize);
        stack.Put(Sp0, retB);
        stack.Put(Sp0 + 8 + 0x20, SavedRbp);
        stack.Put(Sp0 + 8 + 0x28, retC);
        PutFrameC(stack, Sp0 + 8 + 0x30);
        var folder = Directory.CreateTempSubdirectory("dumpshell-provider-");
        try
        {
            string good = Path.Combine(folder.FullName, "good.dll");
            File.WriteAllBytes(good, image.BuildFile());
            var stale = image.BuildFile();
            BinaryPrimitives.WriteUInt32LittleEndian(stale.AsSpan(0x84 + 4), 0x11111111);
            string bad = Path.Combine(folder.FullName, "stale.dll");
            File.WriteAllBytes(bad, stale);

            using var files = new StackWalkDumpFiles();
            using var dump = files.Open(SynthStackDump.Builder(image, stack, SynthStackDump.Context(image.Va(FuncA + 4), Sp0, 0x5151), imageInMemory: false));
            using (var provider = new ImageProvider(dump, _ => good))
            {
                var frames = dump.WalkStack(dump.Threads.Single(), new StackWalkOptions { Images = provider });
                Print(frames);
                Assert.Equal([FrameTrust.Context, FrameTrust.UnwindInfo, FrameTrust.UnwindInfo], frames.Select(f => f.Trust).ToArray());
                Assert.Equal(SavedRbp, frames[2].FramePointer);
                var mi = provider.Get(dump.Modules[0]);
                Assert.Equal("dump+file", mi.Source);
                Assert.Equal(good, mi.FilePath);
            }
            using (var provider = new ImageProvider(dump, _ => bad))
            {
                var mi = provider.Get(dump.Modules[0]);
                Assert.Null(mi.Pe);
                Assert.Contains(mi.Notes, n => n.Contains("TimeDateStamp"));
                var frames = dump.WalkStack(dump.Threads.Single(), new StackWalkOptions { Images = provider });
                Assert.DoesNotContain(frames, f => f.Trust == FrameTrust.UnwindInfo);
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>CallSite: the call encodings that can end at an address, and the cases it must refuse or cannot judge.</summary>
    [Theory]
    [InlineData(64, new byte[] { 0xE8, 1, 2, 3, 4 }, CallSiteVerdict.Call)]                    // call rel32
    [InlineData(64, new byte[] { 0xFF, 0xD0 }, CallSiteVerdict.Call)]                         // call rax
    [InlineData(64, new byte[] { 0x41, 0xFF, 0xD3 }, CallSiteVerdict.Call)]                   // call r11
    [InlineData(64, new byte[] { 0xFF, 0x55, 0x08 }, CallSiteVerdict.Call)]                   // call [rbp+8]
    [InlineData(64, new byte[] { 0xFF, 0x15, 1, 2, 3, 4 }, CallSiteVerdict.Call)]             // call [rip+x]
    [InlineData(64, new byte[] { 0x48, 0xFF, 0x15, 1, 2, 3, 4 }, CallSiteVerdict.Call)]       // rex.w call [rip+x] (CFG dispatch)
    [InlineData(64, new byte[] { 0xFF, 0x94, 0x24, 1, 2, 3, 4 }, CallSiteVerdict.Call)]       // call [rsp+disp32]
    [InlineData(64, new byte[] { 0x41, 0xFF, 0x94, 0x24, 1, 2, 3, 4 }, CallSiteVerdict.Call)] // call [r12+disp32]
    [InlineData(64, new byte[] { 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90 }, CallSiteVerdict.NotCall)]
    [InlineData(64, new byte[] { 0x90, 0x90, 0x90, 0xFF, 0xE0 }, CallSiteVerdict.NotCall)]   // jmp rax
    [InlineData(64, new byte[] { 0xE9, 1, 2, 3, 4 }, CallSiteVerdict.NotCall)]                // jmp rel32
    [InlineData(32, new byte[] { 0xE8, 1, 2, 3, 4 }, CallSiteVerdict.Call)]
    [InlineData(32, new byte[] { 0xFF, 0x15, 1, 2, 3, 4 }, CallSiteVerdict.Call)]             // call [abs32]
    [InlineData(32, new byte[] { 0xFF, 0xD6 }, CallSiteVerdict.Call)]                         // call esi
    [InlineData(32, new byte[] { 0x90, 0x90 }, CallSiteVerdict.Unknown)]                      // too little code to judge
    public void CallSite_recognises_calls_ending_at_the_address(int bitness, byte[] code, CallSiteVerdict expected)
    {
        const ulong at = 0x10000;
        var memory = new byte[16];
        for (int i = 0; i < memory.Length; i++) memory[i] = 0x90;
        code.CopyTo(memory, 16 - code.Length); // the code ends right before the address
        ulong start = at - 16;
        int available = expected == CallSiteVerdict.Unknown ? code.Length : 16;
        var verdict = CallSite.Check(at, bitness, (address, buffer) =>
        {
            if (address < at - (ulong)available || address >= at) return 0;
            int n = (int)Math.Min((ulong)buffer.Length, at - address);
            memory.AsSpan((int)(address - start), n).CopyTo(buffer);
            return n;
        });
        Assert.Equal(expected, verdict);
    }
}
