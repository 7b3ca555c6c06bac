using System.Text;
using System.Text.Json;
using DumpShell.Format.Minidump;
using DumpShell.Machine;
using Xunit;

namespace DumpShell.Tests.Engine;

/// <summary>
/// Facts every Wine dump has, checked against its .truth.json (shared/dumpfactory/README.md explains the
/// format). Expected values are read from the truth file at test time; none come from our parser.
/// </summary>
public class WineTruthTests
{
    public static TheoryData<string> AllWine => new(TestData.WineDumpNames());

    public static TheoryData<string> ExceptionDumps =>
        new(TestData.WineDumpNames().Where(n => TestData.Truth(n).Has("exception")));

    public static TheoryData<string> ManualDumps =>
        new(TestData.WineDumpNames().Where(n => !TestData.Truth(n).Has("exception")));

    /// <summary>Normal (MemoryList) dumps: wdump appended its memory ranges to a new MemoryList.</summary>
    public static TheoryData<string> NormalDumps =>
        new(TestData.WineDumpNames().Where(n => TestData.Truth(n).Added("MemoryListStream ranges") is not null));

    public static TheoryData<string> PdbDumps =>
        new(TestData.WineDumpNames().Where(n => TestData.Truth(n).Has("symbols")));

    public static TheoryData<string> GccDumps =>
        new(TestData.WineDumpNames().Where(n => !TestData.Truth(n).Has("symbols")));

    /// <summary>truth streams_present names (minidumpapiset.h MINIDUMP_STREAM_TYPE names) to stream type.</summary>
    private static readonly Dictionary<string, uint> StreamTypeOfTruthName = new()
    {
        ["UnusedStream"] = 0, ["ThreadListStream"] = 3, ["ModuleListStream"] = 4, ["MemoryListStream"] = 5,
        ["ExceptionStream"] = 6, ["SystemInfoStream"] = 7, ["ThreadExListStream"] = 8, ["Memory64ListStream"] = 9,
        ["CommentStreamA"] = 10, ["CommentStreamW"] = 11, ["HandleDataStream"] = 12, ["FunctionTableStream"] = 13,
        ["UnloadedModuleListStream"] = 14, ["MiscInfoStream"] = 15, ["MemoryInfoListStream"] = 16,
        ["ThreadInfoListStream"] = 17, ["HandleOperationListStream"] = 18, ["TokenStream"] = 19,
        ["SystemMemoryInfoStream"] = 21, ["ProcessVmCountersStream"] = 22, ["ThreadNamesStream"] = 24,
    };

    /// <summary>Our directory name for a truth stream name: the MINIDUMP_STREAM_TYPE name without "Stream".</summary>
    private static readonly Dictionary<string, string> OurNameOfTruthName = new()
    {
        ["UnusedStream"] = "Unused", ["CommentStreamA"] = "CommentA", ["CommentStreamW"] = "CommentW",
        ["0xFFF0"] = "WineUnixModules", // README: "a Wine-private stream of type 0xFFF0" listing the Unix/ELF modules
    };

    private static uint TruthStreamType(string name) =>
        StreamTypeOfTruthName.TryGetValue(name, out uint t) ? t : checked((uint)TruthJson.ParseHex(name));

    private static string OurStreamName(string truthName) =>
        OurNameOfTruthName.TryGetValue(truthName, out var n) ? n
        : truthName.EndsWith("Stream", StringComparison.Ordinal) ? truthName[..^"Stream".Length] : truthName;

    // ---------------------------------------------------------------- file, header, directory

    [Theory, MemberData(nameof(AllWine))]
    public void Opens_and_reading_everything_reports_no_problems(string name)
    {
        // README: "The result is a standard, self-consistent file: every stream lies within the file, no two
        // streams overlap, every RVA points to a valid structure".
        using var dump = Dump.Open(TestData.WineDump(name));
        EngineProbe.TouchEverything(dump);
        Assert.Empty(dump.Problems);
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Header_matches_the_dumpers_read_back(string name)
    {
        var truth = TestData.Truth(name);
        var file = truth.GetProperty("from_dumper").GetProperty("file");
        using var dump = Dump.Open(TestData.WineDump(name));

        Assert.Equal(file.U64("size"), (ulong)dump.File!.File.Length);
        Assert.Equal(file.U32("header_version"), (uint)dump.File!.Version);
        Assert.Equal(file.U64("header_flags"), dump.File!.Flags);
        Assert.Equal(truth.U64("dump_flags_requested"), dump.File!.Flags);
        Assert.Equal(file.U32("header_time_date_stamp"), dump.File!.TimeDateStamp);
        Assert.Equal(file.U32("number_of_streams"), dump.File!.DeclaredStreamCount);

        // DumpTime is the header's TimeDateStamp. from_dumper.dump_time_utc is wdump's own clock, read around
        // the MiniDumpWriteDump call, so it can differ from the header (written by dbghelp) by a second.
        var headerTime = DateTimeOffset.FromUnixTimeSeconds(file.U32("header_time_date_stamp"));
        Assert.Equal(headerTime, dump.DumpTime);
        Assert.Equal(headerTime, dump.GetInfo().DumpTime);
        var wdumpTime = DateTimeOffset.Parse(truth.GetProperty("from_dumper").Str("dump_time_utc"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange((dump.DumpTime!.Value - wdumpTime).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(2));
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Dump_type_names_are_the_requested_flags(string name)
    {
        var truth = TestData.Truth(name);
        var info = Dump.Open(TestData.WineDump(name)).UsingInfo();
        Assert.Equal(truth.U64("dump_flags_requested"), info.DumpTypeFlags);
        var expected = truth.Items("dump_flags_requested_names").Select(e => e.GetString()!).ToArray();
        Assert.Equal(expected.OrderBy(x => x, StringComparer.Ordinal), info.DumpType.OrderBy(x => x, StringComparer.Ordinal));
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Stream_directory_matches_streams_present(string name)
    {
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        var present = truth.Items("streams_present").Select(e => e.GetString()!).ToArray();

        Assert.Equal(present.Select(TruthStreamType), dump.File!.Directory.Select(e => e.Type));
        Assert.Equal(present.Select(OurStreamName), dump.File!.Directory.Select(e => e.Name));
        // GetInfo().Streams leaves out unused (type 0) entries.
        Assert.Equal(present.Where(p => p != "UnusedStream").Select(OurStreamName), dump.GetInfo().Streams);

        // from_dumper.file.streams: type, size and RVA of each directory entry as read back by wdump.
        var streams = truth.GetProperty("from_dumper").GetProperty("file").Items("streams").ToArray();
        Assert.Equal(streams.Length, dump.File!.Directory.Count);
        for (int i = 0; i < streams.Length; i++)
        {
            var e = dump.File!.Directory[i];
            Assert.Equal(streams[i].U32("type"), e.Type);
            Assert.Equal(streams[i].U32("size"), e.DataSize);
            Assert.Equal(streams[i].U32("rva"), e.Rva);
        }
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Comment_pid_and_system_are_the_truths(string name)
    {
        var truth = TestData.Truth(name);
        var scenario = truth.GetProperty("from_scenario");
        using var dump = Dump.Open(TestData.WineDump(name));
        var info = dump.GetInfo();

        Assert.Equal([truth.Str("comment")], info.Comments);
        Assert.Equal(truth.U32("pid"), info.ProcessId);
        Assert.Equal(scenario.U32("pid"), info.ProcessId);
        Assert.Equal("Windows", info.Platform);
        Assert.Equal(truth.Str("arch") == "x64" ? CpuArchitecture.X64 : CpuArchitecture.X86, info.Architecture);
        Assert.Equal(scenario.Int("pointer_size"), dump.PointerSize);
        // README: SystemInfo is "Windows 6.1.7601 (Windows 7 SP1), which is also what RtlGetVersion reports
        // inside Wine (windows_version_reported in from_scenario)".
        Assert.Equal(scenario.Str("windows_version_reported"), info.OSVersion);
        Assert.False(info.IsWow64); // live_process.target_wow64
        Assert.Equal(truth.GetProperty("live_process").GetProperty("target_wow64").GetBoolean(), info.IsWow64);
        Assert.Equal("Wine dbghelp", info.Writer); // the 0xFFF0 stream
    }

    // ---------------------------------------------------------------- threads

    [Theory, MemberData(nameof(AllWine))]
    public void Thread_ids_and_names_are_in_threadlist_order(string name)
    {
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        var live = truth.LiveThreads();

        Assert.Equal(live.Select(t => t.U32("tid")), dump.Threads.Select(t => t.Id));
        Assert.Equal(live.Select(t => NullIfEmpty(t.Str("name"))), dump.Threads.Select(t => t.Name));
        Assert.Equal(Enumerable.Range(0, live.Length), dump.Threads.Select(t => t.Index));
        Assert.Equal(live.Length, dump.GetInfo().ThreadCount);
        Assert.Equal(truth.GetProperty("from_dumper").GetProperty("postprocessing").Int("threads_in_threadlist"), dump.Threads.Count);

        // The scenario's own threads (its order is by role, not ThreadList order): same set, same names.
        var scenario = truth.Items("threads").ToDictionary(t => t.U32("tid"), t => t.Opt("name")?.GetString());
        Assert.Equal(scenario.Keys.Order(), dump.Threads.Select(t => t.Id).Order());
        foreach (var t in dump.Threads)
            Assert.Equal(scenario[t.Id], t.Name);
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Thread_info_matches_live_process(string name)
    {
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        var live = truth.LiveThreads();
        Assert.Equal(live.Length, dump.Threads.Count);

        for (int i = 0; i < live.Length; i++)
        {
            var want = live[i];
            var t = dump.Threads[i];
            Assert.Equal(want.U32("tid"), t.Id);
            Assert.Equal(want.U64("teb"), t.Teb);
            Assert.Equal(want.U64("start_address"), t.StartAddress);
            Assert.Equal(want.U64("affinity"), t.Affinity);
            Assert.Equal(want.U32("exit_status"), t.ExitStatus);
            Assert.NotNull(t.CreateTime);
            Assert.Equal((long)want.U64("create_time"), t.CreateTime!.Value.UtcDateTime.ToFileTimeUtc());
            Assert.Equal((long)want.U64("user_time_100ns"), t.UserTime!.Value.Ticks);
            Assert.Equal((long)want.U64("kernel_time_100ns"), t.KernelTime!.Value.Ticks);
            Assert.Equal(want.Double("cpu_ms"), t.TotalCpuTime!.Value.TotalMilliseconds, 3);
            // README: "MINIDUMP_THREAD.SuspendCount, PriorityClass and Priority are written as 0 by Wine."
            Assert.Equal(0u, t.SuspendCount);
            Assert.Equal(0u, t.PriorityClass);
            Assert.Equal(0, t.Priority);
        }
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Thread_cpu_times_are_at_least_the_scenarios(string name)
    {
        // README: "Thread CPU times in ThreadInfoList were read just before MiniDumpWriteDump, so they are >=
        // the scenario's cpu_*_ms (taken at ready) for running threads."
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        foreach (var want in truth.Items("threads").Where(t => t.Has("cpu_user_ms")))
        {
            var t = dump.Threads.Single(x => x.Id == want.U32("tid"));
            Assert.True(t.UserTime!.Value.TotalMilliseconds >= want.Double("cpu_user_ms"),
                $"thread {t.Id}: user {t.UserTime.Value.TotalMilliseconds} ms < scenario {want.Double("cpu_user_ms")} ms");
            Assert.True(t.KernelTime!.Value.TotalMilliseconds >= want.Double("cpu_kernel_ms"),
                $"thread {t.Id}: kernel {t.KernelTime.Value.TotalMilliseconds} ms < scenario {want.Double("cpu_kernel_ms")} ms");
        }
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Last_error_read_from_each_teb_matches_live_process(string name)
    {
        // README ("For parser writers"): LastErrorValue is at TEB+0x68 on x64; wdump puts every TEB (2 pages) in
        // normal dumps, and a full dump already holds them.
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        foreach (var want in truth.LiveThreads())
        {
            var t = dump.Threads.Single(x => x.Id == want.U32("tid"));
            Assert.True(dump.Memory.TryReadUInt32(t.Teb + 0x68, out uint lastError), $"TEB of thread {t.Id} at 0x{t.Teb:x} is not in the dump");
            Assert.Equal(want.U32("last_error_at_teb"), lastError);
        }
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Process_parameters_are_reachable_from_the_teb(string name)
    {
        // README: TEB+0x60 -> PEB, PEB+0x20 -> RTL_USER_PROCESS_PARAMETERS, which has CommandLine (+0x70),
        // ImagePathName (+0x60), CurrentDirectory.DosPath (+0x38) and Environment (+0x80).
        var truth = TestData.Truth(name);
        var live = truth.GetProperty("live_process");
        using var dump = Dump.Open(TestData.WineDump(name));
        var main = dump.Threads[0];

        Assert.True(dump.Memory.TryReadUInt64(main.Teb + 0x60, out ulong peb));
        Assert.Equal(live.U64("peb"), peb);
        Assert.True(dump.Memory.TryReadUInt64(peb + 0x20, out ulong parameters));
        Assert.Equal(live.U64("process_parameters"), parameters);
        Assert.Equal(live.Str("command_line"), ReadUnicodeString(dump, parameters + 0x70));
        Assert.Equal(live.Str("image_path_name"), ReadUnicodeString(dump, parameters + 0x60));
        Assert.Equal(live.Str("current_directory"), ReadUnicodeString(dump, parameters + 0x38));
        Assert.True(dump.Memory.TryReadUInt64(parameters + 0x80, out ulong environment));
        Assert.Equal(live.U64("environment"), environment);

        // The environment block is in the dump, environment_size bytes, ending in a double NUL.
        ulong size = live.U64("environment_size");
        var block = new byte[size];
        Assert.Equal((int)size, dump.Memory.Read(environment, block));
        Assert.Equal(0, block[^1]);
        Assert.Equal(0, block[^2]);
    }

    // ---------------------------------------------------------------- modules

    [Theory, MemberData(nameof(AllWine))]
    public void Main_module_matches_the_build(string name)
    {
        var truth = TestData.Truth(name);
        var pe = truth.GetProperty("from_build").GetProperty("pe");
        using var dump = Dump.Open(TestData.WineDump(name));
        var main = dump.Modules[0];

        Assert.Equal(truth.GetProperty("from_build").Str("exe"), main.Name);
        Assert.Equal(truth.GetProperty("from_scenario").U64("image_base"), main.BaseAddress);
        Assert.Equal(truth.GetProperty("from_dumper").GetProperty("postprocessing").U64("main_exe_base"), main.BaseAddress);
        Assert.Equal(pe.U32("size_of_image"), main.Size);
        Assert.Equal(pe.U32("time_date_stamp"), main.TimeDateStamp);
        // README: module paths are Wine's Windows paths, C:\dumpfactory\<exe>.
        Assert.Equal(truth.GetProperty("live_process").Str("image_path_name"), main.Path);

        var info = dump.GetInfo();
        Assert.Equal(main.Name, info.ImageName);
        Assert.Equal(main.Path, info.ImagePath);

        // symstore_image: symbols/<exe>/<TimeDateStamp %08X><SizeOfImage %X>/<exe>, from the dump's ModuleList entry.
        Assert.Equal($"symbols/{main.Name}/{main.TimeDateStamp:X8}{main.Size:X}/{main.Name}", truth.Str("symstore_image"));
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Module_names_are_the_loaded_images_in_load_order(string name)
    {
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        var loaded = truth.Items("modules_loaded").Select(e => e.GetString()!).ToArray();

        Assert.Equal(truth.GetProperty("from_dumper").GetProperty("postprocessing").Int("modules_in_modulelist"), dump.Modules.Count);
        Assert.Equal(dump.Modules.Count, dump.GetInfo().ModuleCount);
        // Every ModuleList entry is a loaded image, in load order (a subsequence of modules_loaded: images that
        // were loaded and unloaded again, tzres.dll here, are not in the ModuleList).
        int next = 0;
        foreach (var m in dump.Modules)
        {
            while (next < loaded.Length && !loaded[next].Equals(m.Name, StringComparison.OrdinalIgnoreCase)) next++;
            Assert.True(next < loaded.Length, $"module {m.Name} is not in modules_loaded [{string.Join(", ", loaded)}] in order");
            next++;
        }
        Assert.Equal(Enumerable.Range(0, dump.Modules.Count), dump.Modules.Select(m => m.Index));
        // README: "Not added: UnloadedModuleListStream".
        Assert.Empty(dump.UnloadedModules);
        Assert.Equal(0, dump.GetInfo().UnloadedModuleCount);
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Module_bases_match_the_data_sections_wdump_read(string name)
    {
        // added_by_wdump "Module data sections": one entry per section of every ModuleList module, with its module_base.
        var truth = TestData.Truth(name);
        var sections = truth.Added("Module data sections")!.Value.Items("sections").ToArray();
        using var dump = Dump.Open(TestData.WineDump(name));

        var bases = sections.GroupBy(s => s.Str("module"), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Select(s => s.U64("module_base")).Distinct().Single(), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(bases.Keys.Order(StringComparer.OrdinalIgnoreCase), dump.Modules.Select(m => m.Name).Order(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
        foreach (var m in dump.Modules)
            Assert.Equal(bases[m.Name], m.BaseAddress);
        foreach (var s in sections)
        {
            var m = dump.ModuleAt(s.U64("address"));
            Assert.NotNull(m);
            Assert.Equal(s.Str("module"), m!.Name, ignoreCase: true);
            Assert.Equal(s.GetProperty("main_exe").GetBoolean(), m.Index == 0);
        }
    }

    [Theory, MemberData(nameof(PdbDumps))]
    public void Pdb_build_codeview_record_is_in_the_dump(string name)
    {
        // Wine 8.0's ModuleList entries carry no CvRecord (size 0), so the PDB identity is not in the module
        // list. wdump puts the main exe's read-only sections into normal dumps, and in lld images that includes
        // `.buildid` (README): the IMAGE_DEBUG_DIRECTORY (28 bytes) and then the RSDS record, whose GUID, age and
        // name the build recorded in symbols (pdb_guid, pdb_age, pdb_name_in_exe).
        var truth = TestData.Truth(name);
        var symbols = truth.GetProperty("symbols");
        var buildId = truth.GetProperty("from_build").GetProperty("pe").Items("sections").Single(s => s.Str("name") == ".buildid");
        using var dump = Dump.Open(TestData.WineDump(name));
        var main = dump.Modules[0];
        Assert.Equal(symbols.Str("exe"), main.Name);

        if (main.CodeViewFormat is not null)
        {
            // Should a ModuleList ever carry the record, it must be the build's.
            Assert.Equal("RSDS", main.CodeViewFormat);
            Assert.Equal(symbols.Str("pdb_name_in_exe"), main.PdbName);
            Assert.Equal(Guid.Parse(symbols.Str("pdb_guid")), main.PdbGuid);
            Assert.Equal(symbols.U32("pdb_age"), main.PdbAge);
        }

        ulong at = main.BaseAddress + buildId.U64("rva");
        int size = (int)buildId.U64("virtual_size");
        var bytes = new byte[size];
        Assert.Equal(size, dump.Memory.Read(at, bytes));
        var rsds = bytes.AsSpan(28);
        Assert.Equal("RSDS", Encoding.ASCII.GetString(rsds[..4]));
        Assert.Equal(Guid.Parse(symbols.Str("pdb_guid")), new Guid(rsds.Slice(4, 16)));
        Assert.Equal(symbols.U32("pdb_age"), BitConverter.ToUInt32(rsds.Slice(20, 4)));
        var pdbName = rsds[24..];
        Assert.Equal(symbols.Str("pdb_name_in_exe"), Encoding.UTF8.GetString(pdbName[..pdbName.IndexOf((byte)0)]));
        Assert.Equal($"symbols/{symbols.Str("pdb")}/{Guid.Parse(symbols.Str("pdb_guid")).ToString("N").ToUpperInvariant()}{symbols.U32("pdb_age"):X}/{symbols.Str("pdb")}",
            symbols.Str("symstore_pdb_path"));
    }

    [Theory, MemberData(nameof(GccDumps))]
    public void Gcc_build_has_no_pdb(string name)
    {
        // README: the gcc executables "carry DWARF (-g), no CodeView record".
        using var dump = Dump.Open(TestData.WineDump(name));
        Assert.Null(dump.Modules[0].PdbName);
        Assert.Null(dump.Modules[0].PdbGuid);
    }

    // ---------------------------------------------------------------- exception

    [Theory, MemberData(nameof(ManualDumps))]
    public void Manual_dump_has_no_exception(string name)
    {
        var truth = TestData.Truth(name);
        Assert.Equal("ready_event", truth.Str("trigger"));
        using var dump = Dump.Open(TestData.WineDump(name));
        Assert.Null(dump.File!.Exception);
        Assert.Null(dump.Exception);
        Assert.DoesNotContain(dump.Threads, t => t.IsExceptionThread);
        Assert.StartsWith("No exception stream", dump.GetInfo().LastEvent);
    }

    [Theory, MemberData(nameof(ExceptionDumps))]
    public void Exception_record_matches_the_debug_event(string name)
    {
        var want = TestData.Truth(name).GetProperty("exception");
        using var dump = Dump.Open(TestData.WineDump(name));
        var e = dump.Exception;
        Assert.NotNull(e);

        Assert.Equal(want.U32("code"), e!.Code);
        Assert.Equal(want.U32("flags"), e.Flags);
        Assert.Equal(want.U64("address"), e.Address);
        Assert.Equal(want.U32("thread"), e.ThreadId);
        Assert.Equal(want.Int("number_parameters"), e.Parameters.Length);
        Assert.Equal(want.Int("number_parameters"), (int)dump.File!.Exception!.NumberParameters);
        Assert.Equal(want.Items("parameters").Select(p => p.U64()), e.Parameters);
        Assert.Equal(0, e.Depth);

        var context = want.GetProperty("context");
        Assert.Equal(context.U64("rip"), e.InstructionPointer);
        Assert.Equal(context.U64("rsp"), e.StackPointer);
        Assert.Equal(context.U64("rbp"), e.FramePointer);
        Assert.Equal(context.U64("rip"), e.ContextRegisters!["rip"]);

        // Only the faulting thread is the exception thread.
        Assert.Equal([want.U32("thread")], dump.Threads.Where(t => t.IsExceptionThread).Select(t => t.Id));
    }

    [Theory, MemberData(nameof(ExceptionDumps))]
    public void Exception_code_name_is_the_windows_name(string name)
    {
        // code_name is wdump's label. The EXCEPTION_* ones are winnt.h names; 0xE06D7363 has no SDK name
        // (wdump says MSVC_CPP_EXCEPTION, we say CPP_EH_EXCEPTION), so only the winnt.h names are compared.
        var want = TestData.Truth(name).GetProperty("exception");
        string codeName = want.Str("code_name");
        using var dump = Dump.Open(TestData.WineDump(name));
        if (codeName.StartsWith("EXCEPTION_", StringComparison.Ordinal))
            Assert.Equal(codeName, dump.Exception!.CodeName);
        else
            Assert.NotNull(dump.Exception!.CodeName);
        Assert.Contains($"0x{want.U32("thread"):x}", dump.GetInfo().LastEvent);
    }

    [Theory, MemberData(nameof(ExceptionDumps))]
    public void Access_violation_is_decoded_as_the_scenario_expects(string name)
    {
        var want = TestData.Truth(name).GetProperty("exception");
        var expected = want.GetProperty("expected_by_scenario");
        using var dump = Dump.Open(TestData.WineDump(name));
        var e = dump.Exception!;
        if (want.U32("code") != 0xC0000005)
        {
            Assert.Null(e.AccessType);
            Assert.Null(e.TargetAddress);
            return;
        }
        // AV parameters: [0] = 0 read, 1 write, 8 execute (DEP); [1] = the address.
        var parameters = want.Items("parameters").Select(p => p.U64()).ToArray();
        Assert.Equal(parameters[1], e.TargetAddress);
        Assert.Equal(parameters[0] switch { 0 => "Read", 1 => "Write", 8 => "Execute", _ => "?" }, e.AccessType);
        if (expected.Opt("access") is { } access)
            Assert.StartsWith(access.GetString()!.Split(' ')[0], e.AccessType!, StringComparison.OrdinalIgnoreCase);
        if (expected.Opt("target_address") is { } target)
            Assert.Equal(target.U64(), e.TargetAddress);
    }

    /// <summary>
    /// Where each scenario's exception address lies. The module facts are from the README ("What Wine 8.0's
    /// dbghelp writes"): C++ throws are raised in kernelbase, the heap_corrupt AV is in ntdll.dll; null_call
    /// executes 0 and stack_bof executes 0x41414141, which no module contains.
    /// </summary>
    public static TheoryData<string, string?> ExceptionModules => new()
    {
        { "av_null_write_x64", "av_null_write_x64.exe" }, { "av_null_write_pdb_x64", "av_null_write_pdb.exe" },
        { "div_zero_x64", "div_zero_x64.exe" }, { "div_zero_pdb_x64", "div_zero_pdb.exe" },
        { "stack_overflow_x64", "stack_overflow_x64.exe" }, { "stack_overflow_pdb_x64", "stack_overflow_pdb.exe" },
        { "cpp_throw_msvc_x64", "kernelbase.dll" }, { "cpp_throw_msvc_pdb_x64", "kernelbase.dll" },
        { "heap_corrupt_x64", "ntdll.dll" },
        { "null_call_x64", null }, { "null_call_pdb_x64", null },
        { "stack_bof_x64", null }, { "stack_bof_pdb_x64", null },
    };

    [Theory, MemberData(nameof(ExceptionModules))]
    public void Exception_address_is_in_the_expected_module(string name, string? module)
    {
        using var dump = Dump.Open(TestData.WineDump(name));
        Assert.Equal(module, dump.Exception!.Module, StringComparer.OrdinalIgnoreCase);
        if (module is null) Assert.Null(dump.Exception.AddressSymbol);
        else Assert.StartsWith(module + "+0x", dump.Exception.AddressSymbol!, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("av_null_write_x64")]
    [InlineData("av_null_write_pdb_x64")]
    [InlineData("div_zero_x64")]
    [InlineData("div_zero_pdb_x64")]
    [InlineData("stack_overflow_x64")]
    [InlineData("stack_overflow_pdb_x64")]
    public void Exception_address_is_in_the_expected_function(string name)
    {
        // expected_by_scenario.function, located by the PDB's function ranges (symbols.functions) or, for gcc
        // builds, by `nm` (from_build.functions_from_nm: the function runs up to the next symbol).
        var truth = TestData.Truth(name);
        string function = truth.GetProperty("exception").GetProperty("expected_by_scenario").Str("function");
        ulong imageBase = truth.GetProperty("from_scenario").U64("image_base");
        using var dump = Dump.Open(TestData.WineDump(name));
        ulong rva = dump.Exception!.Address - imageBase;
        Assert.Equal(imageBase, dump.Modules[0].BaseAddress);
        Assert.Equal($"{dump.Modules[0].Name}+0x{rva:x}", dump.Exception.AddressSymbol);

        if (truth.Opt("symbols") is { } symbols)
        {
            var f = symbols.Items("functions").Single(x => x.Str("name") == function);
            Assert.InRange(rva, f.U64("rva"), f.U64("rva_end") - 1);
        }
        else
        {
            var nm = truth.GetProperty("from_build").Items("functions_from_nm").Select(x => (Name: x.Str("name"), Rva: x.U64("rva"))).ToArray();
            var f = nm.Single(x => x.Name == function);
            ulong end = nm.Where(x => x.Rva > f.Rva).Select(x => x.Rva).DefaultIfEmpty(ulong.MaxValue).Min();
            Assert.InRange(rva, f.Rva, end - 1);
        }
    }

    // ---------------------------------------------------------------- handles

    [Theory, MemberData(nameof(AllWine))]
    public void Handle_counts_by_type_match_live_process(string name)
    {
        var handles = TestData.Truth(name).GetProperty("live_process").GetProperty("handles");
        using var dump = Dump.Open(TestData.WineDump(name));

        Assert.True(dump.HasHandleData);
        Assert.Equal(handles.Int("total"), dump.Handles.Count());
        Assert.Equal(handles.Int("total"), dump.GetInfo().HandleCount);
        var expected = handles.GetProperty("counts_by_type").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var actual = dump.HandleSummary.ToDictionary(s => s.Type, s => s.Count);
        Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal), actual.OrderBy(kv => kv.Key, StringComparer.Ordinal));
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Named_handles_match_live_process(string name)
    {
        var handles = TestData.Truth(name).GetProperty("live_process").GetProperty("handles");
        using var dump = Dump.Open(TestData.WineDump(name));
        var byValue = dump.Handles.ToDictionary(h => h.Handle);
        var named = handles.Items("named").ToArray();
        Assert.NotEmpty(named);
        foreach (var want in named)
        {
            Assert.True(byValue.TryGetValue(want.U64("handle"), out var h), $"handle {want.Str("handle")} missing");
            Assert.Equal(want.Str("type"), h!.Type);
            Assert.Equal(want.Str("name"), h.ObjectName);
            Assert.Equal(want.U32("granted_access"), h.GrantedAccess);
        }
        // Every handle with an object name is listed in "named".
        Assert.Equal(named.Length, dump.Handles.Count(h => h.ObjectName is not null));
    }

    // ---------------------------------------------------------------- memory

    [Theory, MemberData(nameof(NormalDumps))]
    public void Memory_list_ends_with_wdumps_ranges(string name)
    {
        // README: the new MemoryList holds "Wine's descriptors unchanged and in Wine's order, then wdump's,
        // sorted by address"; added_by_wdump "MemoryListStream ranges" lists every appended range (base, size, rva).
        var truth = TestData.Truth(name);
        var added = truth.Added("MemoryListStream ranges")!.Value.Items("ranges").ToArray();
        var newList = truth.GetProperty("from_dumper").GetProperty("postprocessing").GetProperty("new_memorylist");
        using var dump = Dump.Open(TestData.WineDump(name));
        var ranges = dump.File!.MemoryRanges;

        Assert.Equal(newList.Int("ranges"), ranges.Count);
        Assert.Equal(newList.U32("rva"), dump.File!.FindStream(MinidumpStreamType.MemoryList)!.Value.Rva);
        var tail = ranges.Skip(ranges.Count - added.Length).ToArray();
        for (int i = 0; i < added.Length; i++)
        {
            Assert.Equal(added[i].U64("base"), tail[i].StartOfMemoryRange);
            Assert.Equal(added[i].U64("size"), tail[i].DataSize);
            Assert.Equal(added[i].U64("rva"), tail[i].Rva);
        }
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Module_data_sections_are_readable_whole(string name)
    {
        // Each data section wdump took is in the dump for its committed bytes, possibly split over several
        // descriptors (README: "Read memory across descriptor boundaries"). Full dumps already hold them all
        // (postprocessing.full_dump_memory64_already_has_data_sections).
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        foreach (var item in new[] { "Module data sections", "Main executable read-only data" })
        {
            foreach (var s in truth.Added(item)!.Value.Items("sections"))
            {
                ulong address = s.U64("address");
                int committed = s.Int("committed_bytes");
                var buffer = new byte[committed];
                Assert.True(committed == dump.Memory.Read(address, buffer),
                    $"{s.Str("module")} {s.Str("section")} at 0x{address:x}: {dump.Memory.Read(address, buffer)} of {committed} bytes");
            }
        }
    }

    [Theory, MemberData(nameof(AllWine))]
    public void Memory_info_regions_match_live_process(string name)
    {
        var memoryInfo = TestData.Truth(name).GetProperty("live_process").GetProperty("memory_info");
        using var dump = Dump.Open(TestData.WineDump(name));
        var regions = dump.File!.MemoryInfos;
        const uint MemCommit = 0x1000, MemReserve = 0x2000, MemPrivate = 0x20000, MemImage = 0x1000000;

        Assert.Equal(memoryInfo.Int("regions"), regions.Count);
        ulong Sum(Func<MemoryInfoRecord, bool> which) => regions.Where(which).Aggregate(0UL, (a, r) => a + r.RegionSize);
        Assert.Equal(memoryInfo.U64("committed_private_bytes"), Sum(r => r.State == MemCommit && r.Type == MemPrivate));
        Assert.Equal(memoryInfo.U64("committed_image_bytes"), Sum(r => r.State == MemCommit && r.Type == MemImage));
        Assert.Equal(memoryInfo.U64("committed_mapped_bytes"), Sum(r => r.State == MemCommit && r.Type != MemPrivate && r.Type != MemImage));
        Assert.Equal(memoryInfo.U64("reserved_bytes"), Sum(r => r.State == MemReserve));
        // VirtualQueryEx from 0 upwards: ascending, no overlaps.
        for (int i = 1; i < regions.Count; i++)
            Assert.True(regions[i].BaseAddress >= regions[i - 1].BaseAddress + regions[i - 1].RegionSize);
    }

    // ---------------------------------------------------------------- helpers

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    /// <summary>Reads a UNICODE_STRING (x64: USHORT Length, USHORT MaximumLength, pad, PWSTR Buffer) from dump memory.</summary>
    internal static string? ReadUnicodeString(Dump dump, ulong address)
    {
        Span<byte> header = stackalloc byte[16];
        if (dump.Memory.Read(address, header) != 16) return null;
        int length = header[0] | header[1] << 8;
        ulong buffer = BitConverter.ToUInt64(header[8..]);
        var bytes = new byte[length];
        if (dump.Memory.Read(buffer, bytes) != length) return null;
        return Encoding.Unicode.GetString(bytes);
    }
}

internal static class DumpTestExtensions
{
    /// <summary>GetInfo() of a dump that is closed right after.</summary>
    public static Model.DumpInfo UsingInfo(this Dump dump)
    {
        using (dump) return dump.GetInfo();
    }
}
