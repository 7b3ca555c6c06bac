using System.Text;
using System.Text.Json;
using DumpShell.Model;
using Xunit;

namespace DumpShell.Tests.Engine;

/// <summary>
/// What each Wine scenario is about (shared/dumpfactory/README.md "Scenarios"), checked against the scenario's
/// own facts in its .truth.json.
/// </summary>
public class WineScenarioTests
{
    // ---------------------------------------------------------------- spinning thread / no false alarms

    [Theory]
    [InlineData("spin_x64")]
    [InlineData("spin_pdb_x64")]
    public void Only_the_spinner_is_spiking(string name)
    {
        var truth = TestData.Truth(name);
        uint spinner = truth.GetProperty("from_scenario").U32("spinner_tid");
        Assert.Equal("spinner", truth.Items("threads").Single(t => t.U32("tid") == spinner).Str("name"));
        using var dump = Dump.Open(TestData.WineDump(name));

        Assert.Equal([spinner], dump.Threads.Where(t => t.Spiking).Select(t => t.Id));
        var t = dump.Threads.Single(x => x.Id == spinner);
        Assert.Equal("spinner", t.Name);
        // The scenario signals ready once GetThreadTimes shows >= 2000 ms of CPU; the spinner keeps running.
        Assert.True(t.TotalCpuTime >= TimeSpan.FromMilliseconds(2000), $"spinner CPU {t.TotalCpuTime}");
        // live_process: the spinner's CPU time as read right before MiniDumpWriteDump.
        var live = truth.LiveThreads().Single(x => x.U32("tid") == spinner);
        Assert.Equal((long)(live.U64("user_time_100ns") + live.U64("kernel_time_100ns")), t.TotalCpuTime!.Value.Ticks);
    }

    [Theory]
    [InlineData("spin_x64")]
    [InlineData("spin_pdb_x64")]
    public void Spinner_starts_in_spin_forever(string name)
    {
        var truth = TestData.Truth(name);
        uint spinner = truth.GetProperty("from_scenario").U32("spinner_tid");
        var spinning = truth.GetProperty("from_scenario").GetProperty("spinning_function");
        using var dump = Dump.Open(TestData.WineDump(name));
        var t = dump.Threads.Single(x => x.Id == spinner);
        Assert.Equal(spinning.U64("address"), t.StartAddress);
        Assert.Equal($"{dump.Modules[0].Name}+0x{spinning.U64("rva"):x}", dump.Describe(t.StartAddress!.Value));
    }

    [Fact]
    public void Idle_dump_has_no_spiking_thread_and_no_exception()
    {
        var truth = TestData.Truth("idle_x64");
        Assert.Equal("ready_event", truth.Str("trigger"));
        Assert.False(truth.Has("exception"));
        using var dump = Dump.Open(TestData.WineDump("idle_x64"));
        Assert.Null(dump.Exception);
        Assert.Equal(truth.Items("threads").Count(), dump.Threads.Count);
        Assert.DoesNotContain(dump.Threads, t => t.Spiking);
        // The rule had what it needs: every thread has CPU and create times.
        Assert.All(dump.Threads, t => Assert.NotNull(t.TotalCpuTime));
        Assert.All(dump.Threads, t => Assert.NotNull(t.Age));
    }

    [Theory]
    [InlineData("spin_x64")]
    [InlineData("spin_pdb_x64")]
    public void Spin_dumps_have_no_exception(string name)
    {
        Assert.False(TestData.Truth(name).Has("exception"));
        using var dump = Dump.Open(TestData.WineDump(name));
        Assert.Null(dump.Exception);
        Assert.Null(dump.File!.Exception);
    }

    // ---------------------------------------------------------------- last error

    [Fact]
    public void Each_threads_last_error_is_in_its_teb()
    {
        // lasterror: threads lasterror-0..4 set 2, 5, 6, 87, 1460; the TEB address is the scenario's own.
        var truth = TestData.Truth("lasterror_x64");
        using var dump = Dump.Open(TestData.WineDump("lasterror_x64"));
        var withError = truth.Items("threads").Where(t => t.Has("last_error")).ToArray();
        Assert.Equal(5, withError.Length);
        foreach (var want in withError)
        {
            var t = dump.Threads.Single(x => x.Id == want.U32("tid"));
            Assert.Equal(want.Str("name"), t.Name);
            Assert.Equal(want.U64("teb"), t.Teb);
            Assert.True(dump.Memory.TryReadUInt32(t.Teb + 0x68, out uint lastError));
            Assert.Equal(want.U32("last_error"), lastError);
        }
    }

    // ---------------------------------------------------------------- deadlock: critical sections on main's stack

    [Theory]
    [InlineData("deadlock_cs_x64")]
    [InlineData("deadlock_cs_pdb_x64")]
    [InlineData("deadlock_cs_x64_full")]
    public void Critical_sections_hold_the_fields_the_scenario_read(string name)
    {
        // x64 RTL_CRITICAL_SECTION: DebugInfo (0), LockCount (8), RecursionCount (12), OwningThread (16),
        // LockSemaphore (24), SpinCount (32). README: "The CSs are on main's stack, so a normal dump holds them".
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        var locks = truth.Items("locks").ToArray();
        Assert.Equal(2, locks.Length);
        foreach (var l in locks)
        {
            ulong address = l.U64("address");
            var fields = l.GetProperty("fields_at_ready");
            var cs = new byte[40];
            Assert.Equal(40, dump.Memory.Read(address, cs));
            Assert.Equal(fields.U64("DebugInfo"), BitConverter.ToUInt64(cs, 0));
            Assert.Equal(fields.GetProperty("LockCount").GetInt32(), BitConverter.ToInt32(cs, 8));
            Assert.Equal(fields.GetProperty("RecursionCount").GetInt32(), BitConverter.ToInt32(cs, 12));
            Assert.Equal(fields.U64("OwningThread"), BitConverter.ToUInt64(cs, 16));
            Assert.Equal(l.U64("owner_tid"), BitConverter.ToUInt64(cs, 16));
            Assert.Equal(fields.U64("LockSemaphore"), BitConverter.ToUInt64(cs, 24));
            Assert.Equal(fields.U64("SpinCount"), BitConverter.ToUInt64(cs, 32));

            // The lock is on main's stack: inside main's stack bounds.
            var main = dump.Threads.Single(t => t.Id == truth.GetProperty("from_scenario").U32("main_tid"));
            Assert.InRange(address, main.StackLimit!.Value, main.StackBase!.Value - 1);
        }
    }

    [Theory]
    [InlineData("deadlock_cs_x64")]
    [InlineData("deadlock_cs_pdb_x64")]
    [InlineData("deadlock_cs_x64_full")]
    public void Deadlock_dump_has_no_exception_and_names_both_lockers(string name)
    {
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        Assert.Null(dump.Exception);
        foreach (var want in truth.Items("threads"))
            Assert.Equal(want.Str("name"), dump.Threads.Single(t => t.Id == want.U32("tid")).Name);
        Assert.Contains(dump.Threads, t => t.Name == "locker-AB");
        Assert.Contains(dump.Threads, t => t.Name == "locker-BA");
    }

    [Fact]
    public void Full_dump_uses_memory64_and_holds_every_teb()
    {
        // deadlock_cs_x64_full: MiniDumpWithFullMemory (0x1967) gives a Memory64List instead of a MemoryList.
        var truth = TestData.Truth("deadlock_cs_x64_full");
        Assert.True(truth.GetProperty("from_dumper").GetProperty("postprocessing")
            .GetProperty("full_dump_memory64_already_has_teb_peb_params_env").GetBoolean());
        using var dump = Dump.Open(TestData.WineDump("deadlock_cs_x64_full"));
        Assert.Null(dump.File!.FindStream(Format.Minidump.MinidumpStreamType.MemoryList));
        Assert.NotNull(dump.File!.FindStream(Format.Minidump.MinidumpStreamType.Memory64List));
        Assert.Contains("MiniDumpWithFullMemory", dump.GetInfo().DumpType);
        foreach (var t in dump.Threads)
        {
            Assert.True(dump.Memory.Contains(t.Teb));
            Assert.Equal("TEB", t.StackBoundsSource);
        }
    }

    // ---------------------------------------------------------------- wait chain

    [Fact]
    public void Wait_chain_objects_are_in_the_handle_table()
    {
        var truth = TestData.Truth("waitchain_x64");
        using var dump = Dump.Open(TestData.WineDump("waitchain_x64"));
        var handles = dump.Handles.ToDictionary(h => h.Handle);
        foreach (var o in truth.GetProperty("from_scenario").Items("objects"))
        {
            string type = o.Str("type");
            foreach (var key in new[] { "handle", "handle_created_by_B", "handle_opened_by_A" })
            {
                if (o.Opt(key) is not { } value) continue;
                Assert.True(handles.TryGetValue(value.U64(), out var h), $"{type} handle {value.GetString()} missing");
                Assert.Equal(type, h!.Type);
                if (type != "Thread")
                    Assert.EndsWith("\\" + o.Str("name"), h.ObjectName);
            }
        }
        // Each waiter of the chain is a thread of the dump, with the scenario's name.
        foreach (var link in truth.GetProperty("from_scenario").Items("chain"))
            Assert.Contains(dump.Threads, t => t.Id == link.U32("waiter_tid"));
    }

    // ---------------------------------------------------------------- handles

    [Fact]
    public void Handle_counts_include_everything_the_scenario_created()
    {
        // README: counts by type are the scenario's plus the handles Wine opens itself.
        var truth = TestData.Truth("handles_x64");
        using var dump = Dump.Open(TestData.WineDump("handles_x64"));
        var summary = dump.HandleSummary.ToDictionary(s => s.Type, s => s.Count);
        foreach (var p in truth.GetProperty("handles_by_type").EnumerateObject())
            Assert.True(summary.GetValueOrDefault(p.Name) >= p.Value.GetInt32(), $"{p.Name}: {summary.GetValueOrDefault(p.Name)} < {p.Value.GetInt32()}");
        // Most first: the 1006 events lead.
        Assert.Equal("Event", dump.HandleSummary.First().Type);

        var scenario = truth.GetProperty("from_scenario");
        var byValue = dump.Handles.ToDictionary(h => h.Handle);
        foreach (var n in scenario.Items("named_handles"))
        {
            var h = byValue[n.U64("handle")];
            Assert.Equal(n.Str("type"), h.Type);
            if (n.Opt("name") is not { } objectName) continue; // thread handles
            // The scenario names keys as HKEY_CURRENT_USER\...; the object name is \REGISTRY\User\<sid>\...
            string tail = objectName.GetString()!.Replace(@"HKEY_CURRENT_USER\", "");
            Assert.EndsWith("\\" + tail, h.ObjectName);
        }
        // 1001 unnamed events: the never-set one, then unnamed_event_first_handle .. unnamed_event_last_handle.
        ulong first = scenario.U64("unnamed_event_first_handle"), last = scenario.U64("unnamed_event_last_handle");
        ulong neverSet = scenario.U64("never_set_event_handle");
        var unnamedEvents = dump.Handles.Where(h => h.Type == "Event" && h.ObjectName is null).Select(h => h.Handle).ToHashSet();
        Assert.Equal(scenario.Int("unnamed_events"), unnamedEvents.Count);
        Assert.Contains(neverSet, unnamedEvents);
        Assert.Contains(first, unnamedEvents);
        Assert.Contains(last, unnamedEvents);
        Assert.All(unnamedEvents, h => Assert.True(h == neverSet || (h >= first && h <= last), $"unnamed event 0x{h:x}"));
    }

    // ---------------------------------------------------------------- C++ exception metadata

    [Theory]
    [InlineData("cpp_throw_msvc_x64")]
    [InlineData("cpp_throw_msvc_pdb_x64")]
    public void Cpp_exception_parameters_and_throw_info_are_readable(string name)
    {
        var truth = TestData.Truth(name);
        var cpp = truth.GetProperty("from_scenario").GetProperty("cpp_exception");
        ulong imageBase = truth.GetProperty("from_scenario").U64("image_base");
        using var dump = Dump.Open(TestData.WineDump(name));
        var e = dump.Exception!;

        // README: on x64 the 4 parameters are 0x19930520, the object, the ThrowInfo and the image base.
        Assert.Equal(cpp.Items("expected_parameters").Select(p => p.U64()), e.Parameters);
        Assert.Equal(1u, e.Flags);
        Assert.True(e.IsNonContinuable);
        Assert.Equal(ExceptionCodesCpp, e.Code);

        // x64 ThrowInfo: attributes, pmfnUnwind, pForwardCompat, pCatchableTypeArray (image-relative int32s).
        ulong throwInfo = cpp.U64("throw_info_address");
        Assert.Equal(throwInfo, e.Parameters[2]);
        Assert.True(dump.Memory.TryReadUInt32(throwInfo + 12, out uint ctaRva));
        Assert.Equal(cpp.U64("catchable_type_array_rva"), ctaRva);
        Assert.Equal(cpp.U64("catchable_type_array_address"), imageBase + ctaRva);

        // CatchableTypeArray: nCatchableTypes, then image-relative CatchableType pointers.
        ulong cta = imageBase + ctaRva;
        var names = cpp.Items("catchable_type_names").Select(x => x.GetString()!).ToArray();
        Assert.True(dump.Memory.TryReadUInt32(cta, out uint count));
        Assert.Equal((uint)names.Length, count);
        Assert.True(dump.Memory.TryReadUInt32(cta + 4, out uint ct0Rva));
        Assert.Equal(cpp.U64("catchable_type_runtime_error_address"), imageBase + ct0Rva);

        for (int i = 0; i < names.Length; i++)
        {
            // CatchableType: properties, pType (image-relative TypeDescriptor), ...
            Assert.True(dump.Memory.TryReadUInt32(cta + 4 + 4 * (ulong)i, out uint ctRva));
            Assert.True(dump.Memory.TryReadUInt32(imageBase + ctRva + 4, out uint tdRva));
            if (i == 0) Assert.Equal(cpp.U64("type_descriptor_runtime_error_rva"), tdRva);
            // TypeDescriptor: pVFTable (8), spare (8), name (NUL-terminated).
            ulong td = imageBase + tdRva;
            Assert.True(dump.Memory.TryReadUInt64(td, out ulong vftable));
            Assert.Equal(cpp.U64("type_info_vftable"), vftable);
            Assert.Equal(names[i], ReadAsciiZ(dump, td + 16, 64));
        }
        Assert.Equal(cpp.Str("type_descriptor_name"), ReadAsciiZ(dump, cpp.U64("type_descriptor_runtime_error_address") + 16, 64));
        Assert.Equal(cpp.Str("what"), ReadAsciiZ(dump, cpp.U64("what_address"), 256));
    }

    private const uint ExceptionCodesCpp = 0xE06D7363;

    // ---------------------------------------------------------------- leak

    [Fact]
    public void Leak_block_pointer_array_is_in_the_dump()
    {
        // leak: 20000 HeapAlloc blocks; the array of their pointers is a global (.bss, taken as a data section).
        var leak = TestData.Truth("leak_x64").GetProperty("leak");
        using var dump = Dump.Open(TestData.WineDump("leak_x64"));
        ulong array = leak.U64("block_pointer_array");
        int count = leak.Int("count");
        var bytes = new byte[count * 8];
        Assert.Equal(bytes.Length, dump.Memory.Read(array, bytes));
        var blocks = Enumerable.Range(0, count).Select(i => BitConverter.ToUInt64(bytes, i * 8)).ToArray();
        Assert.Equal(leak.U64("first_block"), blocks[0]);
        Assert.Equal(leak.U64("last_block"), blocks[^1]);
        Assert.Equal(leak.U64("lowest_block"), blocks.Min());
        Assert.Equal(leak.U64("highest_block"), blocks.Max());
        Assert.Equal(count, blocks.Distinct().Count());
    }

    // ---------------------------------------------------------------- stack overflow, heap corruption

    [Theory]
    [InlineData("stack_overflow_x64")]
    [InlineData("stack_overflow_pdb_x64")]
    public void Stack_overflow_is_a_first_chance_dump_of_the_recursing_thread(string name)
    {
        var truth = TestData.Truth(name);
        Assert.Equal("first_chance_exception", truth.Str("trigger"));
        using var dump = Dump.Open(TestData.WineDump(name));
        var e = dump.Exception!;
        Assert.Equal(0xC00000FDu, e.Code);
        Assert.Equal("EXCEPTION_STACK_OVERFLOW", e.CodeName);
        // The faulting thread's stack pointer lies within its stack (per its TEB).
        var t = dump.Threads.Single(x => x.IsExceptionThread);
        Assert.Equal(truth.GetProperty("exception").U32("thread"), t.Id);
        Assert.InRange(e.StackPointer!.Value, t.StackLimit!.Value, t.StackBase!.Value);
    }

    [Fact]
    public void Heap_corruption_crashes_reading_a_non_canonical_address()
    {
        // README: "The next HeapFree crashes with an access violation in ntdll.dll (parameters 0 and
        // 0xffffffffffffffff: a read of a non-canonical address)."
        using var dump = Dump.Open(TestData.WineDump("heap_corrupt_x64"));
        var e = dump.Exception!;
        Assert.Equal("Read", e.AccessType);
        Assert.Equal(0xffffffffffffffffUL, e.TargetAddress);
        Assert.Equal("ntdll.dll", e.Module, ignoreCase: true);
    }

    private static string ReadAsciiZ(Dump dump, ulong address, int max)
    {
        var bytes = new byte[max];
        int read = dump.Memory.Read(address, bytes);
        int nul = Array.IndexOf(bytes, (byte)0, 0, read);
        return Encoding.ASCII.GetString(bytes, 0, nul >= 0 ? nul : read);
    }
}
