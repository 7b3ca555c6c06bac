using System.Management.Automation;
using DumpShell.Format;
using DumpShell.Format.Elf;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Tests.Module;
using Xunit.Abstractions;

namespace DumpShell.Tests.Managed;

/// <summary>
/// An opened <see cref="Dump"/> on ELF core files: the model (info, threads, modules, memory, signal, stacks) on the
/// cores createdump wrote for the test targets in this run, checked against the targets' own facts, and the same
/// through the cmdlets in a hosted PowerShell.
/// </summary>
[Collection(CoreDumpCollection.Name)]
public sealed class ElfDumpTests(CoreDumpFixture fixture, ModuleFixture module, ITestOutputHelper output) : IClassFixture<ModuleFixture>, IDisposable
{
    private readonly Cli.ModuleSession _ps = module.Session;

    public void Dispose() => _ps.Invoke("Close-Dump -All");

    private static CpuArchitecture ExpectedArchitecture(CoreDump dump) =>
        dump.Facts.GetProperty("architecture").GetString() == "Arm64" ? CpuArchitecture.Arm64 : CpuArchitecture.X64;

    [Fact]
    public void Crash_core_opens_as_a_Linux_dump_of_the_targets_process()
    {
        var facts = fixture.Crash;
        using var dump = Dump.Open(facts.CorePath);
        Assert.Equal(DumpFormat.ElfCore, dump.FileFormat);
        Assert.Null(dump.File);
        Assert.NotNull(dump.ElfCore);
        var info = dump.GetInfo();
        Assert.Equal("Linux", info.Platform);
        Assert.Equal(ExpectedArchitecture(facts), info.Architecture);
        Assert.Equal((uint)facts.ProcessId, info.ProcessId);
        Assert.Null(info.DumpTime);
        Assert.Equal("dotnet", info.ImageName);
        Assert.Equal(dump.Threads.Count, info.ThreadCount);
        Assert.Contains("NT_PRSTATUS", info.Streams);
        Assert.StartsWith("SIGABRT on thread", info.LastEvent);
        Assert.Contains(dump.GetStreams(), s => s.Name == "NT_FILE");
        Assert.Empty(dump.Problems);
    }

    [Fact]
    public void Crash_core_threads_are_the_targets_and_the_worker_is_the_exception_thread()
    {
        var facts = fixture.Crash;
        using var dump = Dump.Open(facts.CorePath);
        var ids = dump.Threads.Select(t => t.Id).ToHashSet();
        foreach (var t in facts.Threads)
            Assert.Contains((uint)t.OsId!.Value, ids);
        var worker = (uint)facts.Thread("worker-crash").OsId!.Value;
        var exceptionThread = Assert.Single(dump.Threads, t => t.IsExceptionThread);
        Assert.Equal(worker, exceptionThread.Id);

        var exception = dump.Exception;
        Assert.NotNull(exception);
        Assert.Equal(worker, exception!.ThreadId);
        Assert.Equal(("SIGABRT", 6u), (exception.CodeName, exception.Code));
        Assert.Equal(exceptionThread.InstructionPointer, dump.ExceptionContext?.InstructionPointer);

        if (dump.Architecture == CpuArchitecture.X64)
        {
            foreach (var name in new[] { "rip", "rsp", "rbp", "rax", "r15", "efl", "cs" })
                Assert.True(exceptionThread.Registers.ContainsKey(name), $"no {name}");
            Assert.False(exceptionThread.Registers.ContainsKey("eflags"));
        }
        Assert.All(dump.Threads, t =>
        {
            Assert.NotNull(t.StackPointer);
            Assert.Equal("StackMemory", t.StackBoundsSource);
            Assert.InRange(t.StackPointer!.Value, t.StackLimit!.Value, t.StackBase!.Value - 1);
        });
    }

    [Fact]
    public void Crash_core_modules_hold_libcoreclr_with_the_local_files_build_id_and_the_app()
    {
        var facts = fixture.Crash;
        using var dump = Dump.Open(facts.CorePath);
        var coreclr = dump.Modules.First(m => m.Name == "libcoreclr.so");
        Assert.NotNull(coreclr.Path);
        Assert.NotNull(coreclr.BuildId);
        string local = Path.Combine(facts.RuntimeDirectory, "libcoreclr.so");
        Assert.Equal(ElfBuildId.HexFromFile(local), coreclr.BuildId, ignoreCase: true);
        Assert.True(coreclr.Size > 0);
        Assert.Contains(dump.Modules, m => m.Name == "crash.dll");
        Assert.Empty(dump.UnloadedModules);
        Assert.Same(coreclr, dump.ModuleAt(coreclr.BaseAddress));
    }

    [Fact]
    public void Crash_core_memory_reads_at_the_crashing_threads_stack_pointer()
    {
        var facts = fixture.Crash;
        using var dump = Dump.Open(facts.CorePath);
        var worker = dump.Threads.Single(t => t.Id == (uint)facts.Thread("worker-crash").OsId!.Value);
        var rows = dump.ReadMemoryRows(worker.StackPointer!.Value, 8, MemoryFormat.QWord).ToArray();
        Assert.Equal(4, rows.Length);
        Assert.All(rows, r => Assert.All(r.Values, v => Assert.NotNull(v)));
        Assert.Contains(rows.SelectMany(r => r.Values), v => v != 0);
    }

    [Fact]
    public void Crash_core_stack_of_the_crashing_thread_starts_at_its_ip_and_walks_by_frame_pointer_or_scan()
    {
        var facts = fixture.Crash;
        using var dump = Dump.Open(facts.CorePath);
        if (dump.Architecture != CpuArchitecture.X64) return; // the walker unwinds x64 and x86 only
        var worker = dump.Threads.Single(t => t.IsExceptionThread);
        var frames = dump.WalkStack(worker);
        foreach (var f in frames.Take(12)) output.WriteLine($"{f.Frame,3} {f.Trust,-12} 0x{f.InstructionPointer:x} {f.Symbol}");
        Assert.True(frames.Count >= 3, $"{frames.Count} frames; stop: {frames[^1].StopReason}");
        Assert.Equal(worker.InstructionPointer, frames[0].InstructionPointer);
        Assert.Equal(FrameTrust.Context, frames[0].Trust);
        Assert.All(frames.Skip(1), f => Assert.True(f.Trust is FrameTrust.FramePointer or FrameTrust.Scan, $"frame {f.Frame}: {f.Trust}"));
        Assert.All(frames.Skip(1), f => Assert.NotNull(dump.ModuleAt(f.InstructionPointer)));
        // The runtime is on the way from the unhandled exception to abort().
        Assert.Contains(frames, f => dump.ModuleAt(f.InstructionPointer)?.Name == "libcoreclr.so");
        Assert.True(frames.Count <= 256);
        for (int i = 1; i < frames.Count; i++) Assert.True(frames[i].ChildSP > frames[i - 1].ChildSP);
        Assert.Equal(frames, dump.WalkExceptionStack().Select(f => f), new FrameComparer());
    }

    private sealed class FrameComparer : IEqualityComparer<StackFrame>
    {
        public bool Equals(StackFrame? x, StackFrame? y) => x!.InstructionPointer == y!.InstructionPointer && x.ChildSP == y.ChildSP;
        public int GetHashCode(StackFrame f) => f.InstructionPointer.GetHashCode();
    }

    [Fact]
    public void Cmdlets_work_on_the_crash_core()
    {
        var facts = fixture.Crash;
        string core = facts.CorePath;
        uint worker = (uint)facts.Thread("worker-crash").OsId!.Value;

        var info = _ps.Invoke("Get-DumpInfo $args[0]", core);
        Assert.Empty(info.Errors);
        var i = Assert.IsType<DumpInfo>(Assert.Single(info.BaseObjects));
        Assert.Equal(("Linux", (uint?)facts.ProcessId), (i.Platform, i.ProcessId));
        Assert.Equal(ExpectedArchitecture(facts), i.Architecture);

        var threads = _ps.Invoke("Get-DumpThread $args[0]", core);
        Assert.Empty(threads.Errors);
        var list = threads.BaseObjects.Cast<DumpThread>().ToArray();
        Assert.All(facts.Threads, t => Assert.Contains(list, d => d.Id == (uint)t.OsId!.Value));
        Assert.Equal(worker, Assert.Single(list, t => t.IsExceptionThread).Id);

        var modules = _ps.Invoke("Get-DumpModule $args[0]", core);
        Assert.Empty(modules.Errors);
        var names = modules.BaseObjects.Cast<DumpModule>().Select(m => m.Name).ToArray();
        Assert.Contains("libcoreclr.so", names);
        Assert.Contains("crash.dll", names);

        ulong sp = list.Single(t => t.Id == worker).StackPointer!.Value;
        var memory = _ps.Invoke("Get-DumpMemory $args[0] -Address $args[1] -Count 2 -Format QWord", core, $"0x{sp:x}");
        Assert.Empty(memory.Errors);
        var row = Assert.IsType<DumpMemoryRow>(Assert.Single(memory.BaseObjects));
        Assert.Equal(sp, row.Address);
        Assert.All(row.Values, v => Assert.NotNull(v));

        if (i.Architecture == CpuArchitecture.X64)
        {
            var stack = _ps.Invoke("Get-DumpStack $args[0] -ThreadId $args[1]", core, worker);
            Assert.Empty(stack.Errors);
            var frames = stack.BaseObjects.Cast<StackFrame>().ToArray();
            Assert.True(frames.Length >= 3);
            Assert.Equal(list.Single(t => t.Id == worker).InstructionPointer, frames[0].InstructionPointer);

            var exception = _ps.Invoke("Get-DumpStack $args[0] -Exception", core);
            Assert.Empty(exception.Errors);
            Assert.Equal(frames[0].InstructionPointer, exception.BaseObjects.Cast<StackFrame>().First().InstructionPointer);
        }

        // The views render without errors.
        string text = _ps.Render($"Get-DumpInfo '{core}'; Get-DumpThread '{core}'; Get-DumpModule '{core}' | Select-Object -First 3; Get-DumpException '{core}'");
        Assert.Contains("SIGABRT", text);
        Assert.Contains("Linux", text);
    }

    [Fact]
    public void Cmdlets_on_cut_cores_give_error_records_not_crashes()
    {
        var facts = fixture.Crash;
        var bytes = File.ReadAllBytes(facts.CorePath);
        using var whole = ElfCoreFile.Open(facts.CorePath);
        var note = whole.Segments.First(s => s.Type == ElfSegmentType.Note);
        string dir = Path.Combine(fixture.WorkDirectory, "cmdlet-cuts");
        Directory.CreateDirectory(dir);
        long[] cuts = [3, 40, 64 + 56 * 2 + 5, (long)note.FileOffset + 100, (long)(note.FileOffset + note.FileSize / 2), bytes.Length / 2];
        foreach (long cut in cuts)
        {
            string path = Path.Combine(dir, $"crash-{cut}.core");
            File.WriteAllBytes(path, bytes.AsSpan(0, (int)cut).ToArray());
            var r = _ps.Invoke(
                "$p = $args[0]; Get-DumpInfo $p; Get-DumpThread $p; Get-DumpModule $p; Get-DumpException $p; Get-DumpStack $p; Get-DumpMemory $p -Address 0x1000",
                path);
            Assert.NotEmpty(r.Errors);
            Assert.DoesNotContain(r.Errors, e => e.FullyQualifiedErrorId.StartsWith("DumpReadFailed", StringComparison.Ordinal));
            if (cut < 4) // too short to be told from a minidump: the minidump reader's id
                Assert.All(r.Errors, e => Assert.Equal("TruncatedHeader", e.FullyQualifiedErrorId.Split(',')[0]));
            else if (cut < ElfCoreFile.HeaderSize)
                Assert.All(r.Errors, e => Assert.Equal("NotAnElfCore", e.FullyQualifiedErrorId.Split(',')[0]));
            else
                Assert.Contains(r.Errors, e => e.CategoryInfo.Category == ErrorCategory.InvalidData);
        }
    }
}

/// <summary>Dumps of synthetic ELF cores (exact layouts, no process needed) and broken ones through the cmdlets.</summary>
public sealed class ElfSyntheticDumpTests(ModuleFixture module) : IClassFixture<ModuleFixture>, IDisposable
{
    private readonly Cli.ModuleSession _ps = module.Session;
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dumpshell-elfdump-");

    public void Dispose()
    {
        _ps.Invoke("Close-Dump -All");
        _temp.Delete(recursive: true);
    }

    private string Write(byte[] bytes, string name = "core")
    {
        string path = Path.Combine(_temp.FullName, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Typical_core_gives_the_model()
    {
        using var dump = Dump.Open(Write(ElfCoreBuilder.Typical().Build().Bytes));
        Assert.Equal(("Linux", CpuArchitecture.X64), (dump.Platform, dump.Architecture));
        var info = dump.GetInfo();
        Assert.Equal(4242u, info.ProcessId);
        Assert.Equal("app", info.ImageName);
        Assert.Equal("/usr/bin/app", info.ImagePath);

        Assert.Equal([4242u, 4243u], dump.Threads.Select(t => t.Id));
        var first = dump.Threads[0];
        Assert.True(first.IsExceptionThread);
        Assert.False(dump.Threads[1].IsExceptionThread);
        Assert.Equal((0x7f0000001010UL, 0x7ffd0000ff00UL, 0x7ffd0000ff40UL), (first.InstructionPointer, first.StackPointer, first.FramePointer));
        Assert.Equal(0x246UL, first.Registers["efl"]);
        Assert.Equal((0x7ffd00010000UL, 0x7ffd0000f000UL), (first.StackBase, first.StackLimit));

        var e = dump.Exception!;
        Assert.Equal(("SIGSEGV", 11u, 4242u), (e.CodeName, e.Code, e.ThreadId));
        Assert.Equal(0xdead0000UL, e.TargetAddress);
        Assert.Equal(0xdead0000UL, e.Address);
        Assert.Equal(0x7f0000001010UL, e.InstructionPointer);
        Assert.Equal("libfoo.so+0x1010", e.AddressSymbol);
        Assert.Contains("0xdead0000", e.Description);

        var libfoo = dump.Modules.Single(m => m.Name == "libfoo.so");
        Assert.Equal((0x7f0000000000UL, 0x3000u), (libfoo.BaseAddress, libfoo.Size));
        Assert.Equal("0102030405060708090A0B0C0D0E0F1011121314", libfoo.BuildId);
        Assert.DoesNotContain(dump.Modules, m => m.Name.StartsWith("zero", StringComparison.Ordinal));
    }

    [Fact]
    public void A_core_taken_on_request_has_no_exception()
    {
        var b = new ElfCoreBuilder();
        b.Note("CORE", 1, ElfCoreBuilder.PrStatus(7, 0, ElfCoreBuilder.X64Registers(rip: 0x1000, rsp: 0x2000)));
        b.AddLoad(0x2000, new byte[0x100]);
        using var dump = Dump.Open(Write(b.Build().Bytes));
        Assert.Null(dump.Exception);
        Assert.Null(dump.ExceptionContext);
        Assert.Empty(dump.WalkExceptionStack());
        Assert.DoesNotContain(dump.Threads, t => t.IsExceptionThread);
        Assert.StartsWith("No signal", dump.GetInfo().LastEvent);
    }

    [Fact]
    public void Not_a_dump_keeps_the_minidump_error_ids_and_an_elf_non_core_says_so()
    {
        Assert.Equal("NotAMinidump", Assert.Throws<DumpFormatException>(() => Dump.Open(Write("Just some text, long enough for a header."u8.ToArray()))).ErrorId);
        Assert.Equal("TruncatedHeader", Assert.Throws<DumpFormatException>(() => Dump.Open(Write("MDMP"u8.ToArray()))).ErrorId);
        Assert.Equal("TruncatedHeader", Assert.Throws<DumpFormatException>(() => Dump.Open(Write([0x7F, (byte)'E', (byte)'L']))).ErrorId);
        var executable = ElfCoreBuilder.Typical().Build().Bytes;
        executable[16] = 2; // ET_EXEC
        Assert.Equal("NotAnElfCore", Assert.Throws<DumpFormatException>(() => Dump.Open(Write(executable))).ErrorId);
    }

    [Fact]
    public void Problems_reach_the_cmdlets_that_read_their_notes()
    {
        var b = ElfCoreBuilder.Typical();
        // A cut-short NT_FILE (a module problem) and NT_PRPSINFO (a process problem).
        var file = b.Notes.FindIndex(n => n.Type == ElfNoteTypes.File);
        b.Notes[file] = (b.Notes[file].Owner, b.Notes[file].Type, b.Notes[file].Data[..10]);
        var ps = b.Notes.FindIndex(n => n.Type == ElfNoteTypes.PrPsInfo);
        b.Notes[ps] = (b.Notes[ps].Owner, b.Notes[ps].Type, b.Notes[ps].Data[..30]);
        string path = Write(b.Build().Bytes);

        static string[] Ids(Cli.ScriptResult r) => r.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]).Order().ToArray();
        var info = _ps.Invoke("Get-DumpInfo $args[0]", path);
        Assert.Single(info.Output);
        Assert.Equal(["FileNoteTruncated", "ProcessInfoTruncated"], Ids(info));
        var modules = _ps.Invoke("Get-DumpModule $args[0]", path);
        Assert.Equal(["FileNoteTruncated"], Ids(modules));
        var threads = _ps.Invoke("Get-DumpThread $args[0]", path);
        Assert.Equal(2, threads.Output.Count);
        Assert.DoesNotContain("FileNoteTruncated", Ids(threads));
        var memory = _ps.Invoke("Get-DumpMemory $args[0] -Address 0x7ffd0000ff00 -Count 2 -Format QWord", path);
        Assert.Empty(memory.Errors);
        Assert.Equal(0x5A5A5A5A5A5A5A5AUL, Assert.IsType<DumpMemoryRow>(Assert.Single(memory.BaseObjects)).Values[0]);
    }

    [Fact]
    public void Broken_cores_through_every_cmdlet_give_error_records()
    {
        var good = ElfCoreBuilder.Typical().Build();
        var random = new Random(7);
        var inputs = new List<byte[]>();
        for (int cut = 1; cut < good.Bytes.Length; cut += Math.Max(1, good.Bytes.Length / 23)) inputs.Add(good.Bytes[..cut]);
        for (int i = 0; i < 20; i++)
        {
            var damaged = (byte[])good.Bytes.Clone();
            for (int k = 0; k < 16; k++) damaged[random.Next(4, Math.Min(damaged.Length, good.NoteSegmentOffset + good.NoteSegmentSize))] = (byte)random.Next(256);
            inputs.Add(damaged);
        }
        foreach (var bytes in inputs)
        {
            string path = Write(bytes);
            var r = _ps.Invoke(
                "$p = $args[0]; Get-DumpInfo $p; Get-DumpThread $p; Get-DumpModule $p; Get-DumpException $p; Get-DumpStack $p; " +
                "Get-DumpMemory $p -Address 0x7ffd0000ff00; Invoke-DumpPattern $p; Get-DumpAnalysis $p", path);
            Assert.DoesNotContain(r.Errors, e => e.FullyQualifiedErrorId.StartsWith("DumpReadFailed", StringComparison.Ordinal) ||
                                                  e.Exception is NullReferenceException or IndexOutOfRangeException or ArgumentOutOfRangeException);
        }
    }
}
