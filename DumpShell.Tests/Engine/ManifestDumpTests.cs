using DumpShell.Format.Minidump;
using DumpShell.Machine;
using Xunit;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The real dumps of shared/dumps (breakpad/, lldb/, rust-minidump/). Every expected value is one that
/// shared/dumps/MANIFEST.md states, and each cites the MANIFEST entry and the source project's file:line
/// the MANIFEST gives for it.
/// </summary>
public class ManifestDumpTests
{
    private static Dump Open(string relativePath) => Dump.Open(TestData.Shared(relativePath));

    // ======================================================================== breakpad/minidump2.dmp

    [Fact]
    public void Minidump2_system()
    {
        using var dump = Open("breakpad/minidump2.dmp");
        var info = dump.GetInfo();
        // MANIFEST: minidump2 — OS "Windows NT" "5.1.2600 Service Pack 2", CPU "x86", 1 CPU:
        // minidump2.stackwalk.out:1-5, minidump_processor_unittest.cc:191-196,508-512
        Assert.Equal("Windows", info.Platform);
        Assert.Equal("5.1.2600", info.OSVersion);
        Assert.Equal(CpuArchitecture.X86, info.Architecture);
        Assert.Equal(4, dump.PointerSize);
        Assert.Equal(1, info.ProcessorCount);
        // MANIFEST: minidump2 — CSD version "Service Pack 2": rust-minidump test_minidump.rs:146
        Assert.Equal("Service Pack 2", info.ServicePack);
        // MANIFEST: minidump2 — "GenuineIntel family 6 model 13 stepping 8": minidump2.stackwalk.out:1-5
        Assert.Equal("GenuineIntel family 6 model 13 stepping 8", info.Processor);
        // MANIFEST: minidump2 — writer is Breakpad's Windows ExceptionHandler (test_app.cc:29,66); BreakpadInfo
        // stream (test_minidump.rs:170-171)
        Assert.Equal("Breakpad", info.Writer);
    }

    [Fact]
    public void Minidump2_exception()
    {
        using var dump = Open("breakpad/minidump2.dmp");
        var e = dump.Exception;
        Assert.NotNull(e);
        // MANIFEST: minidump2 — exception code 0xc0000005 on thread 0xbf4: rust-minidump test_minidump.rs:230-231
        Assert.Equal(0xC0000005u, e!.Code);
        Assert.Equal(0xBF4u, e.ThreadId);
        Assert.Equal("EXCEPTION_ACCESS_VIOLATION", e.CodeName);
        // MANIFEST: minidump2 — crash reason EXCEPTION_ACCESS_VIOLATION_WRITE, crash address 0x45:
        // minidump2.stackwalk.out:9-10, minidump_processor_unittest.cc:513-515
        Assert.Equal("Write", e.AccessType);
        Assert.Equal(0x45UL, e.TargetAddress);
        // MANIFEST: minidump2 — the exception parameters are 1 and 0x45: minidump2.stackwalk.out:11-13
        Assert.Equal([1UL, 0x45UL], e.Parameters);
        // MANIFEST: minidump2 — exception context eip 0x40429e, esp 0x12fe84: test_minidump.rs:236-237
        Assert.Equal(0x40429EUL, e.InstructionPointer);
        Assert.Equal(0x12FE84UL, e.StackPointer);
        // MANIFEST: minidump2 — frame 0 is test_app.exe + 0x429e without symbols:
        // test_minidump_stackwalk__human.snap:15-28
        Assert.Equal("test_app.exe", e.Module);
        Assert.Equal("test_app.exe+0x429e", e.AddressSymbol);
        Assert.Equal(0x40429EUL, e.Address);
    }

    [Fact]
    public void Minidump2_threads()
    {
        using var dump = Open("breakpad/minidump2.dmp");
        // MANIFEST: minidump2 — the raw ThreadList has 2 threads, 0xbf4 and 0x11c0: test_minidump.rs:262-264
        Assert.Equal([0xBF4u, 0x11C0u], dump.Threads.Select(t => t.Id));
        Assert.Equal(2, dump.GetInfo().ThreadCount);
        // MANIFEST: minidump2 — requesting thread 0xbf4 is the exception thread (test_minidump.rs:170-171,
        // minidump_processor_unittest.cc:516-518)
        Assert.Equal([0xBF4u], dump.Threads.Where(t => t.IsExceptionThread).Select(t => t.Id));

        var t0 = dump.Threads[0];
        // MANIFEST: minidump2 — thread 0xbf4's own context: eip 0x7c90eb94, esp 0x12f320: test_minidump.rs:271-272
        Assert.Equal(0x7C90EB94UL, t0.InstructionPointer);
        Assert.Equal(0x7C90EB94UL, t0.Registers["eip"]);
        Assert.Equal(0x12F320UL, t0.StackPointer);
        Assert.Equal(CpuArchitecture.X86, t0.Architecture);
    }

    [Fact]
    public void Minidump2_stack_memory()
    {
        using var dump = Open("breakpad/minidump2.dmp");
        // MANIFEST: minidump2 — stack memory has u64 0x7c90e9c000000000 at 0x12f31c and u64 0x405443 at 0x12fff8:
        // test_minidump.rs:286-301
        Assert.True(dump.Memory.TryReadUInt64(0x12F31C, out ulong low));
        Assert.Equal(0x7C90E9C000000000UL, low);
        Assert.True(dump.Memory.TryReadUInt64(0x12FFF8, out ulong high));
        Assert.Equal(0x405443UL, high);

        // The same through ReadMemoryRows (dq 0x12f31c L1).
        var row = dump.ReadMemoryRows(0x12F31C, 1, Model.MemoryFormat.QWord).Single();
        Assert.Equal([0x7C90E9C000000000UL], row.Values);
        Assert.Equal("7c90e9c000000000", row.Hex);
    }

    [Fact]
    public void Minidump2_modules()
    {
        using var dump = Open("breakpad/minidump2.dmp");
        // MANIFEST: minidump2 — 13 modules: minidump_processor_unittest.cc:559 and test_minidump.rs:65
        Assert.Equal(13, dump.Modules.Count);
        Assert.Equal(13, dump.GetInfo().ModuleCount);

        // MANIFEST: minidump2 — module 0: base 0x400000, size 0x2d000, c:\test_app.exe, code id "45D35F6C2d000",
        // debug file c:\test_app.pdb, debug id 5A9832E5287241C1838ED98914E9B7FF1, no version:
        // test_minidump.rs:66-78, minidump_unittest.cc:105-108
        var m0 = dump.Modules[0];
        Assert.Equal(0x400000UL, m0.BaseAddress);
        Assert.Equal(0x2D000u, m0.Size);
        Assert.Equal(@"c:\test_app.exe", m0.Path);
        Assert.Equal("test_app.exe", m0.Name);
        // code id = TimeDateStamp (%08X) then SizeOfImage (%x).
        Assert.Equal(0x45D35F6Cu, m0.TimeDateStamp);
        Assert.Equal(@"c:\test_app.pdb", m0.PdbName);
        // debug id = GUID (32 hex) then age (hex).
        Assert.Equal(Guid.Parse("5A9832E5-2872-41C1-838E-D98914E9B7FF"), m0.PdbGuid);
        Assert.Equal(1u, m0.PdbAge);
        Assert.Equal("RSDS", m0.CodeViewFormat);
        Assert.Null(m0.FileVersion);

        // MANIFEST: minidump2 — module 12: psapi.dll at 0x76bf0000, size 0xb000, version 5.1.2600.2180:
        // test_minidump.rs:80-92
        var m12 = dump.Modules[12];
        Assert.Equal(@"C:\WINDOWS\system32\psapi.dll", m12.Path);
        Assert.Equal("psapi.dll", m12.Name);
        Assert.Equal(0x76BF0000UL, m12.BaseAddress);
        Assert.Equal(0xB000u, m12.Size);
        Assert.Equal(new Version(5, 1, 2600, 2180), m12.FileVersion);

        // MANIFEST: minidump2 — stream order c:\test_app.exe first, psapi.dll last: test_minidump.rs:94-111
        Assert.Equal(0, m0.Index);
        Assert.Equal(12, m12.Index);
        Assert.Equal("test_app.exe", dump.GetInfo().ImageName);
    }

    [Fact]
    public void Minidump2_misc_info_and_header()
    {
        using var dump = Open("breakpad/minidump2.dmp");
        var info = dump.GetInfo();
        // MANIFEST: minidump2 — MiscInfo process id 3932, process_create_time 0x45d35f73 = 1171480435:
        // test_minidump.rs:153-163
        Assert.Equal(3932u, info.ProcessId);
        Assert.Equal(0x45D35F73u, dump.File!.MiscInfo!.ProcessCreateTime);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1171480435), info.ProcessCreateTime);
        // MANIFEST: minidump2 — header time_date_stamp 1171480435: minidump_processor_unittest.cc:518-520
        Assert.Equal(1171480435u, dump.File!.TimeDateStamp);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1171480435), info.DumpTime);
        Assert.Equal(TimeSpan.Zero, info.ProcessUptime);
    }

    // ======================================================================== breakpad/tiny-exe-with-cet-xsave.dmp

    [Fact]
    public void TinyExeCetXsave_system_and_no_crash()
    {
        using var dump = Open("breakpad/tiny-exe-with-cet-xsave.dmp");
        var info = dump.GetInfo();
        // MANIFEST: tiny-exe-with-cet-xsave — OS "Windows NT", os_version "10.0.22000 282", CPU "amd64",
        // cpu_info "family 6 model 140 stepping 1": minidump_processor_unittest.cc:784-801
        // (Breakpad's os_version is "major.minor.build", then " " and the CSD version.)
        Assert.Equal("Windows", info.Platform);
        Assert.Equal("10.0.22000", info.OSVersion);
        Assert.Equal("282", info.ServicePack);
        Assert.Equal(CpuArchitecture.X64, info.Architecture);
        Assert.EndsWith("family 6 model 140 stepping 1", info.Processor);
        // MANIFEST: tiny-exe-with-cet-xsave — not crashed (ASSERT_FALSE(state.crashed()), no Exception stream),
        // 1 thread: minidump_processor_unittest.cc:784-801
        Assert.Null(dump.Exception);
        Assert.Null(dump.File!.Exception);
        Assert.Single(dump.Threads);
        Assert.StartsWith("No exception stream", info.LastEvent);
    }

    [Fact]
    public void TinyExeCetXsave_has_handle_unloaded_module_and_memory_info_streams()
    {
        // MANIFEST: tiny-exe-with-cet-xsave — "a Windows x64 dump with HandleData, UnloadedModuleList and
        // MemoryInfoList streams (these stream types come from a directory scan and are not asserted by the source)".
        using var dump = Open("breakpad/tiny-exe-with-cet-xsave.dmp");
        Assert.True(dump.HasHandleData);
        Assert.NotNull(dump.File!.FindStream(MinidumpStreamType.UnloadedModuleList));
        Assert.NotNull(dump.File!.FindStream(MinidumpStreamType.MemoryInfoList));
        _ = dump.Handles.ToArray();
        _ = dump.UnloadedModules;
        _ = dump.File!.MemoryInfos;
        uint[] these = [(uint)MinidumpStreamType.HandleData, (uint)MinidumpStreamType.UnloadedModuleList, (uint)MinidumpStreamType.MemoryInfoList];
        Assert.DoesNotContain(dump.Problems, p => p.Stream is { } s && these.Contains(s));
    }

    [Fact]
    public void TinyExeCetXsave_extended_context_still_gives_registers()
    {
        // MANIFEST: tiny-exe-with-cet-xsave — its contexts are "extended, and compacted extended, contexts to
        // include xstate data" (commit fe35cd43); windbg reads it (minidump_processor_unittest.cc:786).
        using var dump = Open("breakpad/tiny-exe-with-cet-xsave.dmp");
        var t = dump.Threads.Single();
        Assert.NotNull(t.InstructionPointer);
        Assert.NotNull(t.StackPointer);
        Assert.Contains("rip", t.Registers.Keys);
    }

    // ======================================================================== breakpad/tiny-exe-fastfail.dmp

    [Fact]
    public void TinyExeFastfail_crash_reason()
    {
        using var dump = Open("breakpad/tiny-exe-fastfail.dmp");
        // MANIFEST: tiny-exe-fastfail — crashed, 4 threads, crash reason "FAST_FAIL_FATAL_APP_EXIT" (a fast-fail,
        // formerly shown as EXCEPTION_STACK_BUFFER_OVERRUN): minidump_processor_unittest.cc:806-819, commit e467c59c
        var e = dump.Exception;
        Assert.NotNull(e);
        Assert.Equal(4, dump.Threads.Count);
        Assert.Equal(0xC0000409u, e!.Code);
        Assert.Equal("FAST_FAIL_FATAL_APP_EXIT", e.FastFailCode);
        Assert.Contains("FAST_FAIL_FATAL_APP_EXIT", e.Description);
        Assert.Equal([e.ThreadId], dump.Threads.Where(t => t.IsExceptionThread).Select(t => t.Id));
    }

    // ======================================================================== lldb/fizzbuzz_no_heap.dmp

    [Fact]
    public void FizzbuzzNoHeap_process_and_exception()
    {
        using var dump = Open("lldb/fizzbuzz_no_heap.dmp");
        // MANIFEST: fizzbuzz_no_heap — process id 4440: MinidumpParserTest.cpp:577-592, TestMiniDump.py:28
        Assert.Equal(4440u, dump.GetInfo().ProcessId);
        // MANIFEST: fizzbuzz_no_heap — platform "Windows, x86 (WoW64)": a 32-bit process (SysWOW64 modules,
        // 32-bit PCs at TestMiniDump.py:103-109).
        Assert.Equal("Windows", dump.Platform);
        Assert.Equal(CpuArchitecture.X86, dump.Architecture);
        // MANIFEST: fizzbuzz_no_heap — 1 thread; "crashed due to an access violation (0xc0000005) in its one
        // and only thread": TestMiniDump.py:36-42
        var t = Assert.Single(dump.Threads);
        var e = dump.Exception;
        Assert.NotNull(e);
        Assert.Equal(0xC0000005u, e!.Code);
        Assert.Equal(t.Id, e.ThreadId);
        Assert.True(t.IsExceptionThread);
        // MANIFEST: fizzbuzz_no_heap — frame 0 PC = 0x00164d14 (TestMiniDump.py:103-109); lldb takes the
        // exception thread's registers from the Exception stream's context.
        Assert.Equal(0x164D14UL, e.InstructionPointer);
    }

    [Fact]
    public void FizzbuzzNoHeap_modules()
    {
        using var dump = Open("lldb/fizzbuzz_no_heap.dmp");
        // MANIFEST: fizzbuzz_no_heap — 6 modules in this order (TestMiniDump.py:50-81); "lldb prints "/" before
        // the file name; the raw names use "\"".
        Assert.Equal(
            [
                @"C:\Users\amccarth\Documents\Visual Studio 2013\Projects\fizzbuzz\Debug\fizzbuzz.exe",
                @"C:\Windows\SysWOW64\ntdll.dll",
                @"C:\Windows\SysWOW64\kernel32.dll",
                @"C:\Windows\SysWOW64\KERNELBASE.dll",
                @"C:\Windows\System32\MSVCP120D.dll",
                @"C:\Windows\System32\MSVCR120D.dll",
            ],
            dump.Modules.Select(m => m.Path));
        Assert.Equal(["fizzbuzz.exe", "ntdll.dll", "kernel32.dll", "KERNELBASE.dll", "MSVCP120D.dll", "MSVCR120D.dll"],
            dump.Modules.Select(m => m.Name));
        // MANIFEST: fizzbuzz_no_heap — fizzbuzz.exe's lldb UUID 0F45B791-9A96-46F9-BF8F-2D6076EA421A-00000011
        // (TestMiniDump.py:50-81): the RSDS GUID, then the age 0x11.
        var exe = dump.Modules[0];
        Assert.Equal("RSDS", exe.CodeViewFormat);
        Assert.Equal(Guid.Parse("0F45B791-9A96-46F9-BF8F-2D6076EA421A"), exe.PdbGuid);
        Assert.Equal(0x11u, exe.PdbAge);
    }

    [Fact]
    public void FizzbuzzNoHeap_has_thread_info_list()
    {
        // MANIFEST: fizzbuzz_no_heap — "The dump also has a ThreadInfoList stream (from a directory scan, not asserted)".
        using var dump = Open("lldb/fizzbuzz_no_heap.dmp");
        Assert.NotNull(dump.File!.FindStream(MinidumpStreamType.ThreadInfoList));
        Assert.Contains("ThreadInfoList", dump.GetInfo().Streams);
    }

    // ======================================================================== lldb/sigsegv.dmp

    [Fact]
    public void Sigsegv_exception()
    {
        using var dump = Open("lldb/sigsegv.dmp");
        // MANIFEST: sigsegv — thread #1 stops with "Exception 0xc0000005 encountered at address 0x7ff7a13110d9";
        // frame #0 is 0x00007ff7a13110d9 in sigsegv.exe: sigsegv.test:5-6
        var e = dump.Exception;
        Assert.NotNull(e);
        Assert.Equal(0xC0000005u, e!.Code);
        Assert.Equal(0x7FF7A13110D9UL, e.Address);
        Assert.Equal(0x7FF7A13110D9UL, e.InstructionPointer);
        Assert.Equal("sigsegv.exe", e.Module);
        Assert.Equal(CpuArchitecture.X64, dump.Architecture);
        Assert.Equal("Windows", dump.Platform);
        // MANIFEST: sigsegv — the instruction is `movl $0x0, 0x0` (sigsegv.test:8), from sigsegv.cpp:22
        // `*(volatile int*)nullptr = 0;`: a write to address 0.
        Assert.Equal("Write", e.AccessType);
        Assert.Equal(0UL, e.TargetAddress);
        Assert.Contains(dump.Threads, t => t.Id == e.ThreadId && t.IsExceptionThread);
    }

    // ======================================================================== lldb/linux-x86_64.dmp

    [Fact]
    public void LinuxX8664_threads_and_platform()
    {
        using var dump = Open("lldb/linux-x86_64.dmp");
        // MANIFEST: linux-x86_64 — Linux, x86-64, written by the Breakpad Linux client (linux-x86_64.cpp:7-10,
        // install_breakpad.cpp:3-11)
        Assert.Equal("Linux", dump.Platform);
        Assert.Equal(CpuArchitecture.X64, dump.Architecture);
        Assert.Equal("Breakpad", dump.GetInfo().Writer);
        // MANIFEST: linux-x86_64 — 1 thread: TestMiniDumpNew.py:142
        var t = Assert.Single(dump.Threads);
        // MANIFEST: linux-x86_64 — the crashing thread's frame 0 PC equals the context's pc register
        // (TestMiniDumpNew.py:148-154): there is a context with a pc.
        Assert.NotNull(dump.Exception);
        Assert.Equal(t.Id, dump.Exception!.ThreadId);
        Assert.NotNull(dump.Exception.InstructionPointer);
        Assert.NotNull(t.InstructionPointer);
    }

    [Fact]
    public void LinuxX8664_signal_is_sigsegv()
    {
        // MANIFEST: linux-x86_64 — "The same crash, as YAML, stops with a signal whose description contains
        // "SIGSEGV"": TestMiniDumpNew.py:123-133
        using var dump = Open("lldb/linux-x86_64.dmp");
        Assert.Equal("SIGSEGV", dump.Exception!.CodeName);
        Assert.Equal(11u, dump.Exception.Code);
    }

    [Fact]
    public void LinuxX8664_pid()
    {
        // MANIFEST: linux-x86_64 — pid 29917: TestMiniDumpNew.py:22, checked at line 143.
        // (A Breakpad Linux dump has no MiscInfo; the pid is in its LinuxProcStatus stream.)
        using var dump = Open("lldb/linux-x86_64.dmp");
        Assert.Equal(29917u, dump.GetInfo().ProcessId);
    }

    // ======================================================================== rust-minidump/linux-mini.dmp

    [Fact]
    public void LinuxMini_system()
    {
        using var dump = Open("rust-minidump/linux-mini.dmp");
        var info = dump.GetInfo();
        // MANIFEST: linux-mini — OS Linux "4.9.60-linuxkit-aufs" "#1 SMP Mon Nov 6 16:00:12 UTC 2017":
        // test_minidump.rs:350-359, linux_human.snap:5-6
        Assert.Equal("Linux", info.Platform);
        Assert.Contains("4.9.60-linuxkit-aufs", info.ServicePack);
        Assert.Contains("#1 SMP Mon Nov 6 16:00:12 UTC 2017", info.ServicePack);
        // MANIFEST: linux-mini — CPU amd64 "family 6 model 70 stepping 1", 4 CPUs: linux_human.snap:7-10
        Assert.Equal(CpuArchitecture.X64, info.Architecture);
        Assert.EndsWith("family 6 model 70 stepping 1", info.Processor);
        Assert.Equal(4, info.ProcessorCount);
        // MANIFEST: linux-mini — process uptime is not available (JSON process_uptime null):
        // linux_human.snap:22, test-minidump-stackwalk.rs:922-943
        Assert.Null(info.ProcessUptime);
    }

    [Fact]
    public void LinuxMini_crash()
    {
        using var dump = Open("rust-minidump/linux-mini.dmp");
        // MANIFEST: linux-mini — crash reason SIGSEGV, crash address 0x0000000000000045: linux_human.snap:12-13
        var e = dump.Exception!;
        Assert.Equal("SIGSEGV", e.CodeName);
        Assert.Equal(0x45UL, e.TargetAddress);
        // MANIFEST: linux-mini — 1 thread, "Thread 0 (crashed) - tid: 1304"; frame 0 rip = 0x0000000000401d72,
        // "given as instruction pointer in context": linux_human.snap:26-37
        var t = Assert.Single(dump.Threads);
        Assert.Equal(1304u, t.Id);
        Assert.Equal(1304u, e.ThreadId);
        Assert.True(t.IsExceptionThread);
        Assert.Equal(0x401D72UL, e.InstructionPointer);
    }

    [Fact]
    public void LinuxMini_modules()
    {
        using var dump = Open("rust-minidump/linux-mini.dmp");
        // MANIFEST: linux-mini — 8 modules (linux_human.snap:86-94): crash (main, 0x00400000-0x00419fff),
        // libm-2.23.so, libc-2.23.so, libgcc_s.so.1, libstdc++.so.6.0.21, libpthread-2.23.so, ld-2.23.so, linux-gate.so
        // (The snapshot lists them by address; the ModuleList order is not stated, so compare as a set.)
        Assert.Equal(8, dump.Modules.Count);
        string[] expected = ["crash", "libm-2.23.so", "libc-2.23.so", "libgcc_s.so.1", "libstdc++.so.6.0.21", "libpthread-2.23.so", "ld-2.23.so", "linux-gate.so"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), dump.Modules.Select(m => m.Name).Order(StringComparer.Ordinal));
        var main = dump.Modules[0];
        Assert.Equal("crash", main.Name);
        Assert.Equal(0x400000UL, main.BaseAddress);
        Assert.Equal(0x41A000UL, main.EndAddress);
        // MANIFEST: linux-mini — frame 0 is `crash + 0x1d72` (linux_human.snap:26-37)
        Assert.Equal("crash+0x1d72", dump.Describe(0x401D72));
    }

    // ======================================================================== rust-minidump/simple-crashpad.dmp

    [Fact]
    public void SimpleCrashpad_writer()
    {
        // MANIFEST: simple-crashpad — writer Crashpad (commit 148946d: "a simple minidump generated by crashpad");
        // it has a CrashpadInfo stream (test_minidump.rs:174-204).
        using var dump = Open("rust-minidump/simple-crashpad.dmp");
        Assert.NotNull(dump.File!.FindStream(MinidumpStreamType.CrashpadInfo));
        Assert.Equal("Crashpad", dump.GetInfo().Writer);
        Assert.Contains("CrashpadInfo", dump.GetInfo().Streams);
    }

    // ======================================================================== rust-minidump/pipeline-inlines-macos-segv.dmp

    [Fact]
    public void MacosSegv_system()
    {
        using var dump = Open("rust-minidump/pipeline-inlines-macos-segv.dmp");
        var info = dump.GetInfo();
        // MANIFEST: pipeline-inlines-macos-segv — "Mac OS X" "11.6.7 20G630", CPU amd64 "family 6 model 70
        // stepping 1", 8 CPUs: macos_inlines_human.snap:5-9
        Assert.Equal("macOS", info.Platform);
        Assert.Equal("11.6.7", info.OSVersion);
        Assert.Equal("20G630", info.ServicePack);
        Assert.Equal(CpuArchitecture.X64, info.Architecture);
        Assert.EndsWith("family 6 model 70 stepping 1", info.Processor);
        Assert.Equal(8, info.ProcessorCount);
    }

    [Fact]
    public void MacosSegv_crash()
    {
        using var dump = Open("rust-minidump/pipeline-inlines-macos-segv.dmp");
        // MANIFEST: pipeline-inlines-macos-segv — crash reason "EXC_BAD_ACCESS / KERN_INVALID_ADDRESS", crash
        // address 0xffffffff80000042: macos_inlines_human.snap:11-12
        var e = dump.Exception!;
        Assert.Equal("EXC_BAD_ACCESS", e.CodeName);
        Assert.Equal(0xFFFFFFFF80000042UL, e.TargetAddress);
        // MANIFEST: pipeline-inlines-macos-segv — thread 0 crashed, tid 4611; frame 0 rip = 0x0000000102a68cd4:
        // macos_inlines_human.snap:21,33
        Assert.Equal(4611u, e.ThreadId);
        Assert.Equal(0x102A68CD4UL, e.InstructionPointer);
        Assert.True(dump.Threads[0].IsExceptionThread);
    }

    [Fact]
    public void MacosSegv_threads()
    {
        using var dump = Open("rust-minidump/pipeline-inlines-macos-segv.dmp");
        // MANIFEST: pipeline-inlines-macos-segv — 11 threads, "Thread 0" … "Thread 10"; thread 0 is named main,
        // tid 4611 (line 21); thread 10 has tid 8963 (line 655). It has a ThreadNames stream.
        Assert.Equal(11, dump.Threads.Count);
        Assert.Equal(4611u, dump.Threads[0].Id);
        Assert.Equal("main", dump.Threads[0].Name);
        Assert.Equal(8963u, dump.Threads[10].Id);
        Assert.NotNull(dump.File!.FindStream(MinidumpStreamType.ThreadNames));
    }

    [Fact]
    public void MacosSegv_modules()
    {
        using var dump = Open("rust-minidump/pipeline-inlines-macos-segv.dmp");
        // MANIFEST: pipeline-inlines-macos-segv — 47 loaded modules; the main module is crash-client at
        // 0x102a54000-0x102b17fff, then dyld 0x10ebd2000-0x10ec6dfff: macos_inlines_human.snap:718-765, 719-720
        Assert.Equal(47, dump.Modules.Count);
        var main = dump.Modules[0];
        Assert.Equal("crash-client", main.Name);
        Assert.Equal(0x102A54000UL, main.BaseAddress);
        Assert.Equal(0x102B18000UL, main.EndAddress);
        var dyld = dump.Modules.Single(m => m.Name == "dyld");
        Assert.Equal(0x10EBD2000UL, dyld.BaseAddress);
        Assert.Equal(0x10EC6E000UL, dyld.EndAddress);
        // The crash rip 0x102a68cd4 (line 33) lies in crash-client (frame 0 is
        // crash-client!core::ptr::write_volatile, line 22). (Exception.Module describes ExceptionAddress, which
        // on macOS holds the fault address 0xffffffff80000042, so it is checked through the instruction pointer.)
        Assert.StartsWith("crash-client+0x", dump.Describe(dump.Exception!.InstructionPointer!.Value));
    }

    // ======================================================================== malformed

    [Fact]
    public void InvalidRange_opens_and_reports_instead_of_throwing()
    {
        // MANIFEST: invalid-range — "The header must parse ("Expected to parse the header"). Reading its LinuxMaps
        // stream must fail ... A reader should open it and then reject the bad stream cleanly, without crashing":
        // test_minidump.rs:316-333. We do not parse LinuxMaps; the rest must read without throwing.
        using var dump = Open("rust-minidump/invalid-range.dmp");
        Assert.NotEmpty(dump.File!.Directory);
        Assert.Contains(dump.File!.Directory, e => e.Type == (uint)MinidumpStreamType.LinuxMaps);
        var ex = Record.Exception(() => EngineProbe.TouchEverything(dump));
        Assert.Null(ex);
        // The other directory entries point outside the 276-byte file: reported, not thrown.
        Assert.NotEmpty(dump.Problems);
        Assert.Contains(dump.Problems, p => p.ErrorId == "StreamOutOfRange");
        Assert.Empty(dump.Threads);
        Assert.Empty(dump.Modules);
    }

    [Fact]
    public void InvalidRecordCount_opens_and_reports_instead_of_throwing()
    {
        // MANIFEST: invalid-record-count — "The header must parse. The macOS crash-info stream (MozMacosCrashInfo)
        // has an invalid record count. Reading that stream must not panic": test_minidump.rs:335-347.
        using var dump = Open("rust-minidump/invalid-record-count.dmp");
        Assert.Contains(dump.File!.Directory, e => e.Type == (uint)MinidumpStreamType.MozMacosCrashInfo);
        var ex = Record.Exception(() => EngineProbe.TouchEverything(dump));
        Assert.Null(ex);
        Assert.Contains(dump.Problems, p => p.Stream == (uint)MinidumpStreamType.MozMacosCrashInfo);
    }
}
