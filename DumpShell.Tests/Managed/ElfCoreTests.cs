using System.Diagnostics;
using DumpShell.Format;
using DumpShell.Format.Elf;
using Microsoft.Diagnostics.Runtime;
using Xunit.Abstractions;

namespace DumpShell.Tests.Managed;

/// <summary>
/// The ELF core reader and ClrMD on core files that createdump wrote for the test targets during this run,
/// checked against the facts each target recorded about itself.
/// </summary>
[Collection(CoreDumpCollection.Name)]
public sealed class ElfCoreTests(CoreDumpFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] Machines = ["X86_64", "AArch64"];

    [Fact]
    public void Crash_core_opens_cleanly_as_this_machine()
    {
        var dump = fixture.Crash;
        output.WriteLine($"crash: build {dump.BuildTime.TotalSeconds:F1} s, run {dump.RunTime.TotalSeconds:F1} s, exit {dump.ExitCode}, {new FileInfo(dump.CorePath).Length} bytes");
        output.WriteLine(dump.Output);
        using var core = ElfCoreFile.Open(dump.CorePath);
        Assert.Empty(core.Problems);
        Assert.Contains(core.Machine.ToString(), Machines);
        Assert.Equal(dump.Facts.GetProperty("architecture").GetString() == "Arm64" ? ElfMachine.AArch64 : ElfMachine.X86_64, core.Machine);
        Assert.Contains(core.Segments, s => s.Type == ElfSegmentType.Note);
        Assert.Contains(core.Segments, s => s.Type == ElfSegmentType.Load);
        Assert.All(core.Threads, t => Assert.True(t.Registers.IsComplete));
        ElfTouch.TouchAll(core);
        Assert.Empty(core.Problems);
    }

    [Fact]
    public void Crash_core_threads_hold_the_targets_os_thread_ids()
    {
        var dump = fixture.Crash;
        using var core = ElfCoreFile.Open(dump.CorePath);
        var ids = core.Threads.Select(t => t.ThreadId).ToHashSet();
        foreach (var thread in dump.Threads)
        {
            Assert.NotNull(thread.OsId);
            Assert.Contains(thread.OsId!.Value, ids);
        }
        Assert.Equal(ids.Count, core.Threads.Count); // no thread twice
    }

    [Fact]
    public void Crash_core_process_id_matches_and_the_main_thread_is_the_process()
    {
        var dump = fixture.Crash;
        using var core = ElfCoreFile.Open(dump.CorePath);
        Assert.NotNull(core.ProcessInfo);
        Assert.Equal(dump.ProcessId, core.ProcessId);
        Assert.Equal(dump.ProcessId, dump.Thread("main").OsId);
        Assert.Contains(core.Threads, t => t.ThreadId == dump.ProcessId);
        Assert.All(core.Threads, t => Assert.Equal(core.ProcessInfo!.ParentProcessId, t.ParentProcessId));
        Assert.Equal("dotnet", core.ProcessInfo!.FileName);
    }

    [Fact]
    public void Crash_core_signaled_thread_is_the_worker_that_threw()
    {
        var dump = fixture.Crash;
        using var core = ElfCoreFile.Open(dump.CorePath);
        var worker = dump.Thread("worker-crash");
        var signaled = core.SignaledThread;
        Assert.NotNull(signaled);
        Assert.Equal(worker.OsId, signaled!.ThreadId);
        Assert.Equal(6, signaled.Signal); // the runtime aborts after an unhandled exception: SIGABRT
        Assert.Equal(6, core.SignalInfo?.Signal);
        Assert.Equal("SIGABRT", core.SignalInfo?.SignalName);
    }

    [Fact]
    public void Crash_core_NT_FILE_lists_libcoreclr_and_the_apps_dll()
    {
        var dump = fixture.Crash;
        using var core = ElfCoreFile.Open(dump.CorePath);
        Assert.Equal((ulong)Environment.SystemPageSize, core.FileMappingPageSize);
        // Paths as the process saw them; compared by content so a symlinked install or checkout still matches.
        Assert.Contains(core.FileMappings, m => SameFile(m.Path, Path.Combine(dump.RuntimeDirectory, "libcoreclr.so")));
        Assert.Contains(core.FileMappings, m => SameFile(m.Path, dump.AssemblyPath));

        var coreclr = core.FindModule("libcoreclr.so");
        Assert.NotNull(coreclr);
        Assert.Equal(ElfImageKind.Elf, coreclr!.ImageKind);
        Assert.True(coreclr.Mappings.Count > 1);
        Assert.Equal(coreclr.Mappings.Min(m => m.Start), coreclr.BaseAddress);
        Assert.Equal(coreclr.Mappings.Max(m => m.End), coreclr.EndAddress);
        // The build id read from the dumped memory is the installed file's.
        Assert.NotNull(coreclr.BuildIdHex);
        Assert.Equal(ElfBuildId.HexFromFile(coreclr.Path), coreclr.BuildIdHex);

        var app = core.Modules.Single(m => SameFile(m.Path, dump.AssemblyPath));
        Assert.Equal(ElfImageKind.PE, app.ImageKind);
        Assert.Null(app.BuildIdHex);
        Assert.Equal("dotnet", core.MainModule?.Name);
    }

    [Fact]
    public void Crash_core_modules_do_not_overlap()
    {
        using var core = ElfCoreFile.Open(fixture.Crash.CorePath);
        var modules = core.Modules;
        for (int i = 1; i < modules.Count; i++)
            Assert.True(modules[i - 1].EndAddress <= modules[i].BaseAddress, $"{modules[i - 1]} overlaps {modules[i]}");
        // The runtime maps managed assemblies twice (flat and as an image): two modules, not one spanning both.
        var corelib = core.Modules.Where(m => m.Name == "System.Private.CoreLib.dll").ToArray();
        Assert.NotEmpty(corelib);
        Assert.All(corelib, m => Assert.True(m.Size < 1UL << 30, $"{m} spans {m.Size:N0} bytes"));
    }

    [Fact]
    public void Crash_core_registers_and_stack_memory_of_the_crashing_thread()
    {
        var dump = fixture.Crash;
        using var core = ElfCoreFile.Open(dump.CorePath);
        var thread = core.Threads.Single(t => t.ThreadId == dump.Thread("worker-crash").OsId);
        var regs = thread.Registers;
        Assert.True(regs.IsComplete);
        ulong ip = regs.InstructionPointer ?? 0, sp = regs.StackPointer ?? 0;
        Assert.NotEqual(0UL, ip);
        Assert.NotEqual(0UL, sp);
        Assert.Equal(sp, regs.ToDictionary()[core.Machine == ElfMachine.AArch64 ? "sp" : "rsp"]);

        var stack = new byte[256];
        Assert.Equal(stack.Length, core.Memory.Read(sp, stack));
        Assert.Contains(stack, b => b != 0);
        // The stack lies in a captured, writable PT_LOAD segment.
        var segment = core.SegmentAt(sp);
        Assert.NotNull(segment);
        Assert.True((segment!.Value.Flags & ElfSegmentFlags.Write) != 0);
        // The thread stopped inside a mapped library (libc's raise/abort for SIGABRT).
        Assert.NotNull(core.ModuleAt(ip));
        output.WriteLine($"rip 0x{ip:x} in {core.ModuleAt(ip)}, rsp 0x{sp:x}");
    }

    [Fact]
    public void Crash_core_auxv_and_every_thread_stack()
    {
        var dump = fixture.Crash;
        using var core = ElfCoreFile.Open(dump.CorePath);
        Assert.Equal((ulong)Environment.SystemPageSize, core.AuxvValue(ElfAuxvType.PageSize));
        Assert.NotNull(core.AuxvValue(ElfAuxvType.Entry));
        var buffer = new byte[64];
        foreach (var t in core.Threads)
            Assert.Equal(buffer.Length, core.Memory.Read(t.Registers.StackPointer!.Value, buffer));
    }

    [Fact]
    public void Heap_and_deadlock_cores_read_cleanly_with_their_threads()
    {
        foreach (var dump in new[] { fixture.Heap, fixture.Deadlock })
        {
            output.WriteLine($"{dump.Target}: build {dump.BuildTime.TotalSeconds:F1} s, run {dump.RunTime.TotalSeconds:F1} s, {new FileInfo(dump.CorePath).Length:N0} bytes");
            using var core = ElfCoreFile.Open(dump.CorePath);
            Assert.Empty(core.Problems);
            Assert.Equal(dump.ProcessId, core.ProcessId);
            var ids = core.Threads.Select(t => t.ThreadId).ToHashSet();
            Assert.All(dump.Threads, t => Assert.Contains(t.OsId!.Value, ids));
            // FailFast on the main thread: it is the one signaled.
            Assert.Equal(dump.Thread("main").OsId, core.SignaledThread?.ThreadId);
            Assert.Contains(core.FileMappings, m => SameFile(m.Path, dump.AssemblyPath));
            ElfTouch.TouchAll(core);
            Assert.Empty(core.Problems);
        }
    }

    [Fact]
    public void Crash_core_cut_short_anywhere_gives_problems_not_exceptions()
    {
        var dump = fixture.Crash;
        using var whole = ElfCoreFile.Open(dump.CorePath);
        var note = whole.Segments.First(s => s.Type == ElfSegmentType.Note);
        var loads = whole.Segments.Where(s => s.Type == ElfSegmentType.Load && s.FileSize > 0).ToArray();
        long length = new FileInfo(dump.CorePath).Length;
        var cuts = new SortedSet<long>
        {
            1, 4, 16, 63, 64, 65, 64 + 56, 64 + 56 * 7 + 13, (long)note.FileOffset, (long)note.FileOffset + 7,
            (long)note.FileOffset + 12, (long)note.FileOffset + 200, (long)(note.FileOffset + note.FileSize / 2),
            (long)(note.FileOffset + note.FileSize) - 1, (long)loads[0].FileOffset, (long)loads[loads.Length / 2].FileOffset + 100,
            length - 1,
        };
        foreach (var n in whole.Notes.Take(40)) { cuts.Add(n.DataOffset - 1); cuts.Add(n.DataOffset + n.DataSize / 2); }

        var bytes = File.ReadAllBytes(dump.CorePath);
        string dir = Path.Combine(fixture.WorkDirectory, "cuts");
        Directory.CreateDirectory(dir);
        foreach (long cut in cuts.Where(c => c > 0 && c < length))
        {
            string path = Path.Combine(dir, $"crash-{cut}.core");
            File.WriteAllBytes(path, bytes.AsSpan(0, (int)cut).ToArray());
            var problems = ElfTouch.OpenAndTouchAll(path, TimeSpan.FromSeconds(10));
            if (cut < ElfCoreFile.HeaderSize)
            {
                Assert.Equal("NotAnElfCore", problems.Single().ErrorId);
                continue;
            }
            Assert.NotEmpty(problems);
            if (cut < (long)note.FileOffset + (long)note.FileSize && cut > 64 + 56 * whole.Segments.Count)
                Assert.Contains(problems, p => p.ErrorId == "NotesTruncated");
            File.Delete(path);
        }
    }

    // ---- ClrMD on the same cores ----

    [Fact]
    public void ClrMD_finds_the_unhandled_exception_on_the_worker_crash_thread()
    {
        var dump = fixture.Crash;
        var worker = dump.Thread("worker-crash");
        var watch = Stopwatch.StartNew();
        using var target = LoadWithClrMD(dump, out var dac, out var info);
        using var runtime = info.CreateRuntime(dac, ignoreMismatch: true);
        output.WriteLine($"ClrInfo.Version {info.Version}, flavor {info.Flavor}, DAC {dac}; runtime in {watch.ElapsedMilliseconds} ms");

        var thread = runtime.Threads.Single(t => t.ManagedThreadId == worker.ManagedId);
        Assert.Equal((uint)worker.OsId!.Value, thread.OSThreadId);
        var exception = thread.CurrentException;
        Assert.NotNull(exception);
        Assert.Equal("App.OrderProcessingException", exception!.Type?.Name);
        Assert.Equal("order 42 failed", exception.Message);
        Assert.Equal("System.InvalidOperationException", exception.Inner?.Type?.Name);
        Assert.Equal("inventory is empty", exception.Inner?.Message);

        // The methods on the throwing thread, innermost first, as the target recorded them.
        var expected = dump.Facts.GetProperty("exception").GetProperty("methods").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var frames = thread.EnumerateStackTrace()
            .Where(f => f.Method is not null)
            .Select(f => $"{f.Method!.Type?.Name}.{f.Method.Name}")
            .Where(expected.Contains)
            .Distinct()
            .ToArray();
        Assert.Equal(expected, frames);
    }

    [Fact]
    public void ClrMD_counts_exactly_the_orders_the_heap_target_allocated()
    {
        var dump = fixture.Heap;
        using var target = LoadWithClrMD(dump, out var dac, out var info);
        using var runtime = info.CreateRuntime(dac, ignoreMismatch: true);
        Assert.True(runtime.Heap.CanWalkHeap);
        string type = dump.Facts.GetProperty("objectType").GetString()!;
        int expected = dump.Facts.GetProperty("objectCount").GetInt32();
        Assert.Equal(1234, expected);
        int count = runtime.Heap.EnumerateObjects().Count(o => o.Type?.Name == type);
        Assert.Equal(expected, count);
    }

    [Fact]
    public void ClrMD_sees_both_lockers_blocked_and_both_locks_held()
    {
        var dump = fixture.Deadlock;
        using var target = LoadWithClrMD(dump, out var dac, out var info);
        using var runtime = info.CreateRuntime(dac, ignoreMismatch: true);
        foreach (var name in new[] { "locker-1", "locker-2" })
        {
            var facts = dump.Thread(name);
            var thread = runtime.Threads.Single(t => t.ManagedThreadId == facts.ManagedId);
            Assert.Equal((uint)facts.OsId!.Value, thread.OSThreadId);
            Assert.Contains(thread.EnumerateStackTrace(), f => f.Method?.Name?.StartsWith("Enter", StringComparison.Ordinal) == true &&
                                                                 f.Method.Type?.Name == "System.Threading.Monitor");
        }
        // With the heap in the dump (type 2) the lock objects and their sync blocks are there.
        var resources = runtime.Heap.EnumerateObjects().Where(o => o.Type?.Name == "App.Resource").ToArray();
        Assert.Equal(2, resources.Length);
        Assert.All(resources, r => Assert.True(r.SyncBlock?.IsMonitorHeld == true && r.SyncBlock.WaitingThreadCount == 1));
    }

    /// <summary>The same file name and the same bytes: the file a core's NT_FILE names is this one.</summary>
    private static bool SameFile(string mapped, string expected) =>
        Path.GetFileName(mapped) == Path.GetFileName(expected) && File.Exists(mapped) && File.Exists(expected) &&
        (mapped == expected || File.ReadAllBytes(mapped).AsSpan().SequenceEqual(File.ReadAllBytes(expected)));

    /// <summary>
    /// Loads a core with ClrMD and finds the DAC the way DumpShell means to: next to the libcoreclr.so that the
    /// core's NT_FILE names, accepted only when that file's build id is the dumped module's.
    /// </summary>
    private DataTarget LoadWithClrMD(CoreDump dump, out string dac, out ClrInfo info)
    {
        using (var core = ElfCoreFile.Open(dump.CorePath))
            dac = FindDac(core) ?? throw new InvalidOperationException($"No DAC on this machine matches the runtime in {dump.CorePath}.");
        var target = DataTarget.LoadDump(dump.CorePath, new DataTargetOptions { SymbolCachePath = fixture.SymbolCache });
        info = Assert.Single(target.ClrVersions);
        return target;
    }

    /// <summary>libmscordaccore.so beside the dump's libcoreclr.so, or in this host's runtime of that version, when the build ids agree.</summary>
    internal static string? FindDac(ElfCoreFile core)
    {
        var coreclr = core.FindModule("libcoreclr.so");
        if (coreclr?.BuildIdHex is not { } buildId) return null;
        string dumpedDir = Path.GetDirectoryName(coreclr.Path)!;
        var candidates = new List<string> { dumpedDir };
        string version = Path.GetFileName(dumpedDir);
        string? dotnetRoot = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(typeof(object).Assembly.Location)));
        if (dotnetRoot is not null) candidates.Add(Path.Combine(dotnetRoot, "Microsoft.NETCore.App", version));
        candidates.Add(Path.Combine("/usr/share/dotnet/shared/Microsoft.NETCore.App", version));
        foreach (var dir in candidates)
        {
            string dac = Path.Combine(dir, "libmscordaccore.so");
            if (File.Exists(dac) && ElfBuildId.HexFromFile(Path.Combine(dir, "libcoreclr.so")) == buildId) return dac;
        }
        return null;
    }
}

/// <summary>Opens a core and reads everything the reader offers, the way a careless caller would.</summary>
internal static class ElfTouch
{
    /// <summary>The problems of <paramref name="path"/> after touching everything; a DumpFormatException shows as its one problem.</summary>
    public static IReadOnlyCollection<DumpProblem> OpenAndTouchAll(string path, TimeSpan timeout)
    {
        IReadOnlyCollection<DumpProblem> problems = [];
        Exception? failure = null;
        // A thread of its own, not the pool: tests running in parallel would starve a Task.Run and its timeout.
        var thread = new Thread(() =>
        {
            try
            {
                using var core = ElfCoreFile.Open(path);
                TouchAll(core);
                problems = core.Problems;
            }
            catch (DumpFormatException e)
            {
                problems = [new DumpProblem(e.ErrorId, e.Message, null)];
            }
            catch (Exception e)
            {
                failure = e;
            }
        }) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(timeout), $"Reading {path} took longer than {timeout.TotalSeconds} s.");
        if (failure is not null) throw new Xunit.Sdk.XunitException($"Reading {path} threw {failure}");
        return problems;
    }

    public static void TouchAll(ElfCoreFile core)
    {
        _ = core.Machine;
        var buffer = new byte[4096];
        foreach (var s in core.Segments)
        {
            _ = s.Protection;
            core.Memory.Read(s.VirtualAddress, buffer);
            if (s.MemorySize > 0) core.Memory.Read(s.EndAddress - 1, buffer);
        }
        foreach (var n in core.Notes) { _ = n.TypeName; _ = core.NoteData(n).Length; }
        foreach (var t in core.Threads)
        {
            _ = t.Registers.ToDictionary();
            if (t.Registers.StackPointer is { } sp) core.Memory.Read(sp, buffer);
            _ = t.Registers.InstructionPointer;
            _ = t.Registers.FramePointer;
        }
        _ = core.SignaledThread;
        _ = core.ProcessInfo;
        _ = core.ProcessId;
        foreach (var a in core.Auxv) _ = a.Name;
        _ = core.FileMappingPageSize;
        _ = core.FileMappings.Count;
        _ = core.SignalInfo?.SignalName;
        foreach (var m in core.Modules)
        {
            _ = m.BuildIdHex;
            _ = core.ModuleAt(m.BaseAddress);
        }
        _ = core.MainModule;
        _ = core.Memory.TotalBytes;
        _ = core.Memory.RangeCount;
    }
}
