using System.Buffers.Binary;
using System.Text;
using DumpShell.Model;
using DumpShell.Tests.Synth;

namespace DumpShell.Tests.Engine;

/// <summary>
/// Sparse process memory for synthetic dumps: blocks at addresses, filled field by field, then added to a builder's
/// MemoryList. Used to lay out TEBs, PEBs and process parameters by the offsets of ../shared/docs/patterns.md.
/// </summary>
internal sealed class FakeMemory
{
    private readonly SortedDictionary<ulong, byte[]> _blocks = new();

    public FakeMemory Block(ulong address, int size)
    {
        _blocks[address] = new byte[size];
        return this;
    }

    private Span<byte> At(ulong address, int size)
    {
        foreach (var (start, bytes) in _blocks)
            if (address >= start && address + (ulong)size <= start + (ulong)bytes.Length)
                return bytes.AsSpan((int)(address - start), size);
        throw new ArgumentOutOfRangeException(nameof(address), $"0x{address:x} (+{size}) is in no block.");
    }

    public FakeMemory U8(ulong a, byte v) { At(a, 1)[0] = v; return this; }
    public FakeMemory U16(ulong a, ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(At(a, 2), v); return this; }
    public FakeMemory U32(ulong a, uint v) { BinaryPrimitives.WriteUInt32LittleEndian(At(a, 4), v); return this; }
    public FakeMemory U64(ulong a, ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(At(a, 8), v); return this; }
    public FakeMemory Ptr(ulong a, ulong v, int pointerSize) => pointerSize == 8 ? U64(a, v) : U32(a, checked((uint)v));
    public FakeMemory Bytes(ulong a, byte[] bytes) { bytes.CopyTo(At(a, bytes.Length)); return this; }

    /// <summary>A UNICODE_STRING at <paramref name="at"/> whose buffer (NUL-terminated) is written at <paramref name="buffer"/>.</summary>
    public FakeMemory UnicodeString(ulong at, ulong buffer, string text, int pointerSize)
    {
        var bytes = Encoding.Unicode.GetBytes(text + "\0");
        Bytes(buffer, bytes);
        U16(at, (ushort)(text.Length * 2)).U16(at + 2, (ushort)bytes.Length);
        return Ptr(at + (pointerSize == 8 ? 8UL : 4UL), buffer, pointerSize);
    }

    /// <summary>An environment block: NAME=value strings, then the empty string. Returns its size in bytes.</summary>
    public int Environment(ulong at, params string[] variables)
    {
        var bytes = Encoding.Unicode.GetBytes(string.Concat(variables.Select(v => v + "\0")) + "\0");
        Bytes(at, bytes);
        return bytes.Length;
    }

    public void AddTo(MinidumpBuilder b)
    {
        foreach (var (start, bytes) in _blocks) b.AddMemory(start, bytes);
    }
}

/// <summary>PEB, process parameters, TEB last errors (Get-DumpEnvironment, Get-DumpLastError) against the dump factory's truth and synthetic x86/WOW64 layouts.</summary>
public sealed class ProcessEnvironmentTests : IDisposable
{
    private readonly SynthDumpFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>Wine dumps whose truth has live_process facts (every one the factory wrote).</summary>
    public static TheoryData<string> WineDumps()
    {
        var data = new TheoryData<string>();
        foreach (string name in TestData.WineDumpNames())
            if (TestData.Truth(name).Has("live_process") && TestData.Truth(name).GetProperty("live_process").Has("peb"))
                data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Peb_and_process_parameters_match_the_live_process(string name)
    {
        // truth live_process: read by wdump from the target right before MiniDumpWriteDump.
        var live = TestData.Truth(name).GetProperty("live_process");
        using var dump = Dump.Open(TestData.WineDump(name));
        var env = Assert.Single(dump.ProcessEnvironments);
        Assert.Same(env, dump.ProcessEnvironment);
        Assert.False(env.IsWow64Peb);
        Assert.Equal(8, env.PointerSize);
        Assert.Equal(live.U64("peb"), env.PebAddress);
        Assert.Equal(live.U64("process_parameters"), env.ProcessParametersAddress);
        Assert.Equal(live.Str("command_line"), env.CommandLine);
        Assert.Equal(live.Str("image_path_name"), env.ImagePathName);
        Assert.Equal(live.Str("current_directory"), env.CurrentDirectory);
        Assert.Equal(live.U64("environment"), env.EnvironmentAddress);
        Assert.Equal(live.GetProperty("environment_size").GetInt64(), env.EnvironmentSize);
        Assert.False(env.EnvironmentTruncated);
        // dumpfactory README: wdump starts the target with CreateProcess(DEBUG_ONLY_THIS_PROCESS).
        Assert.True(env.BeingDebugged);
        Assert.Equal(dump.Modules[0].BaseAddress, env.ImageBaseAddress);
        Assert.DoesNotContain("CommandLine", env.Unavailable);
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Environment_holds_the_fixed_variables_wdump_gives_its_target(string name)
    {
        using var dump = Dump.Open(TestData.WineDump(name));
        var env = dump.ProcessEnvironment!;
        // shared/dumpfactory/wdump.c: "A small, fixed environment for the target" (SystemRoot, windir, SystemDrive, PATH,
        // TEMP, TMP, ComSpec, USERNAME, COMPUTERNAME, then WDUMP_READY=wdump_ready_<dumper pid>).
        Assert.Equal(@"C:\windows", env.GetVariable("SystemRoot"));
        Assert.Equal(@"C:\windows\system32;C:\windows", env.GetVariable("PATH"));
        Assert.Equal("dumpshell", env.GetVariable("USERNAME"));
        Assert.Equal("DUMPFACTORY", env.GetVariable("COMPUTERNAME"));
        Assert.StartsWith("wdump_ready_", env.GetVariable("WDUMP_READY"));
        Assert.Null(env.GetVariable("NO_SUCH_VARIABLE"));
        Assert.Equal(env.GetVariable("username"), env.GetVariable("USERNAME")); // names compare case-insensitively
    }

    [Fact]
    public void Loader_list_of_a_full_dump_names_the_loaded_modules()
    {
        var truth = TestData.Truth("deadlock_cs_x64_full");
        using var dump = Dump.Open(TestData.WineDump("deadlock_cs_x64_full"));
        var loaded = dump.ProcessEnvironment!.LoaderModules;
        Assert.NotNull(loaded);
        // modules_loaded: image names from the debug events' LOAD_DLL file handles, in load order.
        var expected = truth.Items("modules_loaded").Select(m => m.GetString()!).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        Assert.Equal(expected[0], loaded![0].BaseDllName, ignoreCase: true);
        foreach (string module in expected.Where(m => !m.Equals("tzres.dll", StringComparison.OrdinalIgnoreCase)))
            Assert.Contains(loaded, m => string.Equals(m.BaseDllName, module, StringComparison.OrdinalIgnoreCase));
        // Each loader entry sits at the base the module list gives its file, with the same size.
        foreach (var m in loaded.Where(m => dump.ModuleAt(m.DllBase) is not null))
        {
            var listed = dump.ModuleAt(m.DllBase)!;
            Assert.Equal(listed.BaseAddress, m.DllBase);
            Assert.Equal(listed.Size, m.SizeOfImage);
        }
        Assert.Equal(truth.GetProperty("live_process").Str("image_path_name"), loaded[0].FullDllName);
    }

    [Fact]
    public void Normal_dumps_lack_the_loader_list_and_say_so()
    {
        using var dump = Dump.Open(TestData.WineDump("idle_x64"));
        var env = dump.ProcessEnvironment!;
        // dumpfactory README: normal dumps get the TEBs, PEB, parameters and environment, not the heap the loader list lives in.
        Assert.Null(env.LoaderModules);
        Assert.Contains("LoaderModules", env.Unavailable);
    }

    [Fact]
    public void LastError_of_each_thread_is_the_value_the_scenario_set()
    {
        var truth = TestData.Truth("lasterror_x64");
        using var dump = Dump.Open(TestData.WineDump("lasterror_x64"));
        var errors = dump.LastErrors.ToDictionary(e => e.ThreadId);
        var expected = truth.Items("threads").Where(t => t.Has("last_error")).ToArray();
        Assert.Equal(5, expected.Length);
        foreach (var t in expected)
        {
            var e = errors[t.U32("tid")];
            Assert.Equal(t.U32("last_error"), e.LastError);
            Assert.Equal(t.Str("last_error_name"), e.LastErrorName);
            Assert.Equal(t.U64("teb"), e.Teb);
            Assert.Equal(t.Str("name"), e.ThreadName);
            Assert.NotNull(e.Message);
        }
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void LastError_matches_what_wdump_read_at_TEB_0x68(string name)
    {
        // live_process.threads[].last_error_at_teb: LastErrorValue read at TEB+0x68 in the live target.
        using var dump = Dump.Open(TestData.WineDump(name));
        var errors = dump.LastErrors.ToDictionary(e => e.ThreadId);
        foreach (var t in TestData.Truth(name).LiveThreads())
        {
            Assert.Equal(t.U64("teb"), errors[t.U32("tid")].Teb);
            if (t.Has("last_error_at_teb"))
                Assert.Equal(t.U32("last_error_at_teb"), errors[t.U32("tid")].LastError);
        }
        Assert.All(dump.LastErrors, e => Assert.NotNull(e.LastStatus));
    }

    [Fact]
    public void A_dump_without_TEB_memory_has_no_PEB_and_unknown_last_errors()
    {
        // MANIFEST: breakpad/minidump2.dmp is a Windows XP x86 dump with stacks only.
        using var dump = Dump.Open(TestData.Shared("breakpad/minidump2.dmp"));
        Assert.True(dump.HasWindowsTebLayout);
        Assert.Empty(dump.ProcessEnvironments);
        Assert.Null(dump.ProcessEnvironment);
        Assert.NotEmpty(dump.LastErrors);
        Assert.All(dump.LastErrors, e => Assert.Null(e.LastError));
        Assert.All(dump.LastErrors, e => Assert.Null(e.LastStatus));
    }

    [Fact]
    public void Linux_dumps_have_no_TEB_layout()
    {
        using var dump = Dump.Open(TestData.Shared("rust-minidump/linux-mini.dmp"));
        Assert.False(dump.HasWindowsTebLayout);
        Assert.Empty(dump.ProcessEnvironments);
        Assert.Empty(dump.LastErrors);
    }

    // ------------------------------------------------------------------ synthetic x86 and WOW64 layouts

    private const uint Tid = 0x1234;

    /// <summary>
    /// An x86 process laid out with the x86 offsets of patterns.md: TEB (+0x18 Self, +0x24 ClientId.UniqueThread,
    /// +0x30 PEB, +0x34 LastErrorValue, +0xBF4 LastStatusValue), PEB (+0x02 BeingDebugged, +0x08 ImageBaseAddress,
    /// +0x10 ProcessParameters, +0x18 ProcessHeap, +0x68 NtGlobalFlag, +0x88/+0x90 heaps, +0x1D4 SessionId) and
    /// RTL_USER_PROCESS_PARAMETERS (+0x24 CurrentDirectory, +0x30 DllPath, +0x38 ImagePathName, +0x40 CommandLine,
    /// +0x48 Environment, +0x70 WindowTitle, +0x290 EnvironmentSize).
    /// </summary>
    internal static (FakeMemory Memory, int EnvironmentSize) X86Process(ulong teb, ulong peb, ulong parameters, ulong environment,
        string commandLine, uint lastError, uint lastStatus, params string[] variables)
    {
        var m = new FakeMemory().Block(teb, 0x1000).Block(peb, 0x500).Block(parameters, 0x1000).Block(environment, 0x1000);
        m.U32(teb + 0x18, (uint)teb).U32(teb + 0x24, Tid).U32(teb + 0x30, (uint)peb).U32(teb + 0x34, lastError).U32(teb + 0xBF4, lastStatus);
        m.U8(peb + 0x02, 1).U32(peb + 0x08, 0x0040_0000).U32(peb + 0x10, (uint)parameters).U32(peb + 0x18, 0x0030_0000)
            .U32(peb + 0x68, 0x0200_0000).U32(peb + 0x88, 2).U32(peb + 0x90, (uint)peb + 0x400).U32(peb + 0x1D4, 1)
            .U32(peb + 0x400, 0x0030_0000).U32(peb + 0x404, 0x0050_0000);
        m.U32(parameters, 0x300).U32(parameters + 4, 0x300).U32(parameters + 8, 1); // MaximumLength, Length, Flags (normalized)
        m.UnicodeString(parameters + 0x24, parameters + 0x400, @"C:\work\", 4);
        m.UnicodeString(parameters + 0x30, parameters + 0x500, @"C:\app;C:\Windows\system32", 4);
        m.UnicodeString(parameters + 0x38, parameters + 0x600, @"C:\app\app32.exe", 4);
        m.UnicodeString(parameters + 0x40, parameters + 0x700, commandLine, 4);
        m.UnicodeString(parameters + 0x70, parameters + 0x800, "App Window", 4);
        m.U32(parameters + 0x48, (uint)environment);
        int size = m.Environment(environment, variables);
        m.U32(parameters + 0x290, (uint)size);
        return (m, size);
    }

    [Fact]
    public void X86_offsets_give_the_PEB_parameters_and_last_error()
    {
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.X86);
        var (memory, size) = X86Process(0x7FFD_F000, 0x7FFD_9000, 0x0020_0000, 0x0021_0000, "app32.exe --verbose", 87, 0xC0000034,
            "=C:=C:\\work", "PATH=C:\\Windows\\system32", "SystemRoot=C:\\Windows", "Empty=");
        memory.AddTo(b);
        b.AddThreadList(new ThreadSpec { ThreadId = Tid, Teb = 0x7FFD_F000 });
        b.AddMemoryListOfAllBlocks();
        var dump = _files.Open(b);

        var env = Assert.Single(dump.ProcessEnvironments);
        Assert.Equal(4, env.PointerSize);
        Assert.Equal(0x7FFD_9000UL, env.PebAddress);
        Assert.Equal(0x7FFD_F000UL, env.TebAddress);
        Assert.True(env.BeingDebugged);
        Assert.Equal(0x0040_0000UL, env.ImageBaseAddress);
        Assert.Equal(0x0020_0000UL, env.ProcessParametersAddress);
        Assert.Equal(0x0030_0000UL, env.ProcessHeap);
        Assert.Equal(0x0200_0000U, env.NtGlobalFlag);
        Assert.Contains("hpa (page heap)", env.NtGlobalFlagNames);
        Assert.Equal(2U, env.NumberOfHeaps);
        Assert.Equal(new ulong[] { 0x0030_0000, 0x0050_0000 }, env.ProcessHeaps);
        Assert.Equal(1U, env.SessionId);
        Assert.Equal(@"C:\work\", env.CurrentDirectory);
        Assert.Equal(@"C:\app;C:\Windows\system32", env.DllPath);
        Assert.Equal(@"C:\app\app32.exe", env.ImagePathName);
        Assert.Equal("app32.exe --verbose", env.CommandLine);
        Assert.Equal("App Window", env.WindowTitle);
        Assert.Equal(0x0021_0000UL, env.EnvironmentAddress);
        Assert.Equal(size, env.EnvironmentSize);
        Assert.Equal(new[] { "=C:", "PATH", "SystemRoot", "Empty" }, env.Environment!.Select(v => v.Name));
        Assert.Equal(@"C:\work", env.GetVariable("=C:"));
        Assert.Equal("", env.GetVariable("Empty"));

        var e = Assert.Single(dump.LastErrors);
        Assert.Equal(87U, e.LastError);
        Assert.Equal("ERROR_INVALID_PARAMETER", e.LastErrorName);
        Assert.Equal(0xC0000034U, e.LastStatus);
        Assert.Equal("STATUS_OBJECT_NAME_NOT_FOUND", e.LastStatusName);
        Assert.Equal(0x7FFD_F000UL, e.Teb);
        Assert.Equal(4, e.PointerSize);
    }

    [Fact]
    public void A_TEB_that_names_another_thread_is_not_used()
    {
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.X86);
        var (memory, _) = X86Process(0x7FFD_F000, 0x7FFD_9000, 0x0020_0000, 0x0021_0000, "app32.exe", 5, 0, "A=1");
        memory.U32(0x7FFD_F000 + 0x18, 0x1111_0000).U32(0x7FFD_F000 + 0x24, Tid + 4); // Self and ClientId belong elsewhere
        memory.AddTo(b);
        b.AddThreadList(new ThreadSpec { ThreadId = Tid, Teb = 0x7FFD_F000 });
        b.AddMemoryListOfAllBlocks();
        var dump = _files.Open(b);
        Assert.Empty(dump.ProcessEnvironments);
        Assert.Null(Assert.Single(dump.LastErrors).LastError);
    }

    [Fact]
    public void Missing_parameter_strings_are_unavailable_not_empty()
    {
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.X86);
        var (memory, _) = X86Process(0x7FFD_F000, 0x7FFD_9000, 0x0020_0000, 0x0021_0000, "app32.exe", 0, 0, "A=1");
        memory.U32(0x0020_0000 + 0x44, 0x0660_0000); // CommandLine.Buffer points to memory the dump does not hold
        memory.U32(0x0020_0000 + 0x48, 0x0770_0000); // so does Environment
        memory.AddTo(b);
        b.AddThreadList(new ThreadSpec { ThreadId = Tid, Teb = 0x7FFD_F000 });
        b.AddMemoryListOfAllBlocks();
        var env = Assert.Single(_files.Open(b).ProcessEnvironments);
        Assert.Null(env.CommandLine);
        Assert.Null(env.Environment);
        Assert.Contains("CommandLine", env.Unavailable);
        Assert.Contains("Environment", env.Unavailable);
        Assert.Equal(@"C:\app\app32.exe", env.ImagePathName);
    }

    [Fact]
    public void An_environment_block_without_its_double_NUL_is_truncated()
    {
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.X86);
        var (memory, _) = X86Process(0x7FFD_F000, 0x7FFD_9000, 0x0020_0000, 0x0021_0000, "app32.exe", 0, 0, "A=1");
        memory.U32(0x0020_0000 + 0x290, 0); // no EnvironmentSize: the scan stops where the captured memory ends
        memory.Bytes(0x0021_0000, Enumerable.Repeat((byte)'x', 0x1000).ToArray());
        memory.AddTo(b);
        b.AddThreadList(new ThreadSpec { ThreadId = Tid, Teb = 0x7FFD_F000 });
        b.AddMemoryListOfAllBlocks();
        var env = Assert.Single(_files.Open(b).ProcessEnvironments);
        Assert.True(env.EnvironmentTruncated);
        Assert.Null(env.EnvironmentSize);
        Assert.Single(env.Environment!);
    }

    /// <summary>
    /// A WOW64 process in an AMD64 dump: the 64-bit TEB (x64 offsets; NT_TIB.ExceptionList points to the 32-bit TEB),
    /// the 32-bit TEB 0x2000 above it (x86 offsets), and a PEB for each side; the modules of the WOW64 layer.
    /// </summary>
    internal static MinidumpBuilder Wow64Builder(out ulong teb64, out ulong teb32)
    {
        teb64 = 0x7EFD_B000;
        teb32 = teb64 + 0x2000;
        const ulong peb64 = 0x7EFD_F000, peb32 = 0x7EFD_E000, params64 = 0x0008_0000, env64 = 0x0009_0000;
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.Amd64);
        var (memory, _) = X86Process(teb32, peb32, 0x0020_0000, 0x0021_0000, "app32.exe /wow", 2, 0,
            "PROCESSOR_ARCHITECTURE=AMD64", "PATH=C:\\Windows\\system32");
        memory.U32(peb32 + 0x68, 0x70); // NtGlobalFlag of a process started under a debugger
        memory.Block(teb64, 0x2000).Block(peb64, 0x400).Block(params64, 0x1000).Block(env64, 0x100);
        memory.U64(teb64, teb32).U64(teb64 + 0x30, teb64).U64(teb64 + 0x48, Tid).U64(teb64 + 0x60, peb64).U32(teb64 + 0x68, 0);
        memory.U64(peb64 + 0x10, 0x0040_0000).U64(peb64 + 0x20, params64).U32(peb64 + 0xBC, 0x70);
        memory.U32(params64, 0x400).U32(params64 + 4, 0x400).U32(params64 + 8, 1);
        memory.UnicodeString(params64 + 0x70, params64 + 0x600, "app32.exe /wow", 8);
        memory.U64(params64 + 0x80, env64);
        memory.Environment(env64, "PROCESSOR_ARCHITECTURE=AMD64");
        memory.AddTo(b);
        b.AddThreadList(new ThreadSpec { ThreadId = Tid, Teb = teb64 });
        b.AddModuleList(
            new ModuleSpec { BaseOfImage = 0x0040_0000, SizeOfImage = 0x1_0000, Name = @"C:\app\app32.exe" },
            new ModuleSpec { BaseOfImage = 0x7FFA_1000_0000, SizeOfImage = 0x20_0000, Name = @"C:\Windows\System32\ntdll.dll" },
            new ModuleSpec { BaseOfImage = 0x7FFA_2000_0000, SizeOfImage = 0x5_0000, Name = @"C:\Windows\System32\wow64.dll" },
            new ModuleSpec { BaseOfImage = 0x7FFA_3000_0000, SizeOfImage = 0x1_0000, Name = @"C:\Windows\System32\wow64cpu.dll" },
            new ModuleSpec { BaseOfImage = 0x77A1_0000, SizeOfImage = 0x18_0000, Name = @"C:\Windows\SysWOW64\ntdll.dll" });
        b.AddMemoryListOfAllBlocks();
        return b;
    }

    [Fact]
    public void Wow64_dump_has_both_PEBs_and_the_32_bit_last_error()
    {
        var dump = _files.Open(Wow64Builder(out ulong teb64, out ulong teb32));
        Assert.True(dump.IsWow64);
        Assert.Equal(2, dump.ProcessEnvironments.Count);
        var native = dump.ProcessEnvironments[0];
        var wow = dump.ProcessEnvironments[1];
        Assert.False(native.IsWow64Peb);
        Assert.Equal(8, native.PointerSize);
        Assert.Equal(0x7EFD_F000UL, native.PebAddress);
        Assert.Equal(teb64, native.TebAddress);
        Assert.Equal(0x70U, native.NtGlobalFlag);
        Assert.True(wow.IsWow64Peb);
        Assert.Equal(4, wow.PointerSize);
        Assert.Equal(0x7EFD_E000UL, wow.PebAddress);
        Assert.Equal(teb32, wow.TebAddress);
        Assert.Equal("app32.exe /wow", wow.CommandLine);
        Assert.Same(wow, dump.ProcessEnvironment);

        var e = Assert.Single(dump.LastErrors);
        Assert.Equal(teb32, e.Teb);
        Assert.Equal(2U, e.LastError);
        Assert.Equal(4, e.PointerSize);
    }
}
